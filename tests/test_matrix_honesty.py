"""No cell is ✅ unless every check behind it ran and passed: a run stopped by -x or an interrupt, a crashed xdist
worker or a broken fixture leaves the cells of the checks it did not finish not-✅."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import ForwardChecks
from reports.cells import PASSED, build_table
from reports.results import load_results


CHECKS = tuple(sorted(name for name in dir(ForwardChecks) if name.startswith("test_")))
FEATURE = {"lora": "lora", "seq_bn": "bottleneck"}
ARGS = ("--arch=bert", "--method=lora,seq_bn", "--results", "out.json")


def stop_at(nodeid_part: str, action: str) -> str:
    """A conftest whose autouse fixture does ``action`` in the check whose node id contains ``nodeid_part``."""
    return f"""
import os

import pytest


@pytest.fixture(autouse=True)
def sabotage(request):
    if {nodeid_part!r} in request.node.nodeid and {action!r} != "crash-once":
        {{"fixture-error": lambda: pytest.fail("fixture broke"), "interrupt": lambda: (_ for _ in ()).throw(KeyboardInterrupt)}}[{action!r}]()
    if {nodeid_part!r} in request.node.nodeid and os.environ.get("PYTEST_XDIST_WORKER") and not os.path.exists("crashed"):
        open("crashed", "w").close()
        os._exit(1)  # the worker dies in the middle of the check
    yield
"""


def collected(pytester: pytest.Pytester) -> dict[tuple[str, str], set[str]]:
    """Every check the selection holds, by (arch, feature) cell: what a ✅ has to stand for."""
    cells: dict[tuple[str, str], set[str]] = {}
    for method, feature in FEATURE.items():
        cells[("bert", feature)] = {f"test_checks.py::TestForward::{check}[bert-{method}]" for check in CHECKS}
    return cells


def assert_honest(path: Path, cells: dict[tuple[str, str], set[str]]) -> dict[tuple[str, str], str]:
    results = load_results(path)
    outcomes = {c.nodeid: c.outcome for c in results.checks}
    table = build_table([results])
    statuses = {}
    for row in table.rows:
        for feature, cell in row.cells.items():
            if (row.arch, feature) not in cells:
                continue
            statuses[(row.arch, feature)] = cell.status
            if cell.status == PASSED:
                missing = {n for n in cells[(row.arch, feature)] if outcomes.get(n) != "passed"}
                assert not missing, f"{row.arch} {feature} is ✅ without these checks passing: {sorted(missing)}"
    return statuses


def run(pytester: pytest.Pytester, *extra: str, subprocess: bool = False) -> Any:
    if subprocess:
        return pytester.runpytest_subprocess(*ARGS, *extra, timeout=300)
    return pytester.runpytest_inprocess(*ARGS, *extra, no_reraise_ctrlc=True)  # the interrupt stays inside


def test_a_complete_run_passes_every_cell(inner_run):
    run(inner_run).assert_outcomes(passed=2 * len(CHECKS))
    assert set(assert_honest(inner_run.path / "out.json", collected(inner_run)).values()) == {PASSED}


def test_stopping_at_the_first_failure_leaves_the_unfinished_cells_not_passed(inner_run):
    inner_run.makeconftest(stop_at(f"{CHECKS[1]}[bert-seq_bn]", "fixture-error"))
    result = run(inner_run, "-x")
    statuses = assert_honest(inner_run.path / "out.json", collected(inner_run))
    assert statuses == {("bert", "lora"): "failed", ("bert", "bottleneck"): "failed"}, statuses
    checks = {c["nodeid"]: c for c in json.loads((inner_run.path / "out.json").read_text())["checks"]}
    assert len(checks) == 2 * len(CHECKS), "every collected check has a record"
    assert checks[f"test_checks.py::TestForward::{CHECKS[-1]}[bert-lora]"]["reason"].startswith("did not run")
    result.stdout.fnmatch_lines(["*bert*❌*❌*"])


def test_an_interrupt_leaves_the_unfinished_cells_not_passed(inner_run):
    inner_run.makeconftest(stop_at(f"{CHECKS[1]}[bert-lora]", "interrupt"))
    result = run(inner_run)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    statuses = assert_honest(inner_run.path / "out.json", collected(inner_run))
    assert PASSED not in statuses.values(), statuses


def test_a_fixture_error_leaves_its_cell_not_passed(inner_run):
    inner_run.makeconftest(stop_at(f"{CHECKS[0]}[bert-lora]", "fixture-error"))
    run(inner_run)
    statuses = assert_honest(inner_run.path / "out.json", collected(inner_run))
    assert statuses == {("bert", "lora"): "failed", ("bert", "bottleneck"): PASSED}, statuses


def test_a_crashed_worker_leaves_its_cell_not_passed(inner_run):
    inner_run.makeconftest(stop_at(f"{CHECKS[0]}[bert-lora]", "crash-once"))
    # --dist=load: under loadgroup with a single worker, xdist 3.8 gives the replacement worker no work and hangs
    result = run(inner_run, "-n", "1", "--dist=load", subprocess=True)
    assert "crashed" in result.stdout.str()
    statuses = assert_honest(inner_run.path / "out.json", collected(inner_run))
    assert statuses == {("bert", "lora"): "failed", ("bert", "bottleneck"): PASSED}, statuses
    record = next(
        c
        for c in json.loads((inner_run.path / "out.json").read_text())["checks"]
        if c["nodeid"].endswith(f"{CHECKS[0]}[bert-lora]")
    )
    assert record["outcome"] == "error" and "crashed" in record["reason"], record
