"""Check ids in the results are relative to the project, whatever pytest's rootdir: committed results compare them as
text, and an argument can move the rootdir (a ``--results`` file that already exists outside the project)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conformance.recording import PROJECT, project_nodeid


CHECK = "conformance/suite/test_conformance.py::TestLoRA::test_merge[bert-lora]"


def test_a_node_id_from_a_rootdir_above_the_project_is_made_relative_to_it():
    assert project_nodeid(f"{PROJECT.name}/{CHECK}", PROJECT.parent) == CHECK
    assert project_nodeid(CHECK, PROJECT) == CHECK
    assert project_nodeid("test_mine.py::test_it", PROJECT.parent) == "test_mine.py::test_it"  # outside: pytest's


def test_a_rootdir_above_the_project_leaves_the_ids_as_they_are(tmp_path):
    """As when a ``--results`` file already exists in a folder beside the project (pytest then starts from their common
    parent): here the rootdir is set there outright."""
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "pytest", "-q", "--arch=bert", "--method=seq_bn", "-k", "test_identity_at_init"]
    result = subprocess.run(
        [*command, f"--rootdir={PROJECT.parent}", "--results", str(out)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTEST_ADDOPTS": ""},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ids = [check["nodeid"] for check in json.loads(out.read_text(encoding="utf-8"))["checks"]]
    assert ids and all(nodeid.startswith("conformance/suite/") for nodeid in ids), ids[:3]
