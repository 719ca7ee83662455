"""The suite runs with and without pytest-xdist: nothing in the ini options needs it; under ``-n N`` the checks of
one architecture go to one worker unless ``--dist`` says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.distribution import group_by_architecture


ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(
    ("given", "workers", "expected"),
    [("no", 2, "loadgroup"), ("no", 0, "no"), ("no", None, "no"), ("load", 2, "load"), ("worksteal", 2, "worksteal")],
)
def test_workers_group_by_architecture_unless_told_otherwise(given, workers, expected):
    config = SimpleNamespace(option=SimpleNamespace(dist=given, numprocesses=workers))
    group_by_architecture(config)
    assert config.option.dist == expected


def test_without_xdist_there_is_no_dist_option_to_set():
    config = SimpleNamespace(option=SimpleNamespace())
    group_by_architecture(config)  # -p no:xdist, or xdist not installed: nothing to do, no error
    assert not hasattr(config.option, "dist")


@pytest.mark.parametrize("args", [["-p", "no:xdist"], ["-n", "2"]], ids=["without-xdist", "with-xdist"])
def test_the_repository_options_work_with_and_without_xdist(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "--collect-only", "-q", "tests/test_xdist_optional.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "unrecognized arguments" not in done.stderr
