"""The suite runs with and without pytest-xdist: nothing in the ini options needs it; under ``-n N`` the checks of
one architecture and feature go to one worker unless ``--dist`` says otherwise, the heavy ones first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.distribution import FIRST, group_by_architecture, heavy_first


ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(
    ("given", "workers", "expected"),
    [("no", 2, "loadgroup"), ("no", 0, "no"), ("no", None, "no"), ("load", 2, "load"), ("worksteal", 2, "worksteal")],
)
def test_workers_group_by_architecture_unless_told_otherwise(given, workers, expected):
    config = SimpleNamespace(option=SimpleNamespace(dist=given, numprocesses=workers))
    group_by_architecture(config)
    assert config.option.dist == expected
    # groups go out in collection order (heavy_first's), not re-sorted by their number of checks
    assert getattr(config.option, "loadscopereorder", True) is (expected != "loadgroup")


class _Item:
    def __init__(self, name, feature):
        self.name, self.feature = name, feature

    def iter_markers(self, name):
        return [SimpleNamespace(args=(self.feature,))] if name == "feature" else []


@pytest.mark.parametrize(
    ("dist", "worker", "moved"), [("loadgroup", False, True), ("no", True, True), ("no", False, False)]
)
def test_heavy_checks_start_first_under_xdist_only(dist, worker, moved):
    heavy = next(iter(FIRST))
    items = [_Item("a", "lora"), _Item("b", heavy), _Item("c", "heads"), _Item("d", heavy), _Item("e", "lora")]
    config = SimpleNamespace(option=SimpleNamespace(dist=dist), **({"workerinput": {}} if worker else {}))
    heavy_first(config, items)
    assert "".join(i.name for i in items) == ("bdace" if moved else "abcde")


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
