"""Every AdapterHub failure in the committed results is explained by a row of docs/adapters/repro/README.md.

The README's table names, per reproduction script, the checks that fail because of that defect, as backticked
patterns: ``TestClass::test_name[param]``, with ``*`` for any characters; a parameter without the architecture
(``[par_bn]``) stands for every architecture (``[bert-par_bn]``, ``[gpt2-par_bn]`` ...); a pattern without a
parameter covers all of them; a bare ``[param]`` continues the check named before it in the same cell.
Items naming a file (``tests/...``) are checks outside the suite and are not matched here.
Reads committed files only: it needs no ``adapters`` install.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

from reports.results import load_results


REPO = Path(__file__).resolve().parents[1]
README = REPO / "docs" / "adapters" / "repro" / "README.md"
RESULTS = REPO / "docs" / "adapters" / "per_version" / "transformers-4.57.6.json"
FAILED = ("failed", "error")
_SUITE_ITEM = re.compile(r"^(\*|Test[\w*]*::[\w*]+)(\[[^\]]+\])?$")
_CONTINUATION = re.compile(r"^\[[^\]]+\]$")


def rows() -> list[tuple[str, list[str]]]:
    """(script, check patterns) per row of the README's table."""
    table = []
    for line in README.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("| ") or len(cells) != 3 or cells[0] in ("script", "---"):
            continue
        patterns: list[str] = []
        check = None  # the check a bare [param] continues: the last item named, if a suite check
        for item in re.findall(r"`([^`]+)`", cells[2]):
            if _CONTINUATION.match(item):
                if check:
                    patterns.append(check + item)
                continue
            check = item.partition("[")[0] if _SUITE_ITEM.match(item) else None
            if check:
                patterns.append(item)
        table.append((cells[0], patterns))
    return table


def matches(pattern: str, arch: str, nodeid: str) -> bool:
    """Does ``pattern`` name the check ``nodeid`` (of architecture ``arch``)?"""
    name, _, param = nodeid.split("::", 1)[1].partition("[")
    wanted_name, bracket, wanted_param = pattern.partition("[")
    if not fnmatchcase(name, wanted_name):
        return False
    if not bracket:
        return True
    param, wanted_param = param.removesuffix("]"), wanted_param.removesuffix("]")
    without_arch = param.removeprefix(f"{arch}-") if param != arch else ""
    return fnmatchcase(param, wanted_param) or fnmatchcase(without_arch, wanted_param)


def failures() -> list[tuple[str, str]]:
    return [(c.arch, c.nodeid) for c in load_results(RESULTS).checks if c.outcome in FAILED]


def test_every_failure_is_explained_by_a_row() -> None:
    failed = failures()
    assert failed, f"{RESULTS.name} holds no failure: is it the AdapterHub run?"
    patterns = [p for _, row in rows() for p in row]
    unexplained = [
        f"{arch} {nodeid}" for arch, nodeid in failed if not any(matches(p, arch, nodeid) for p in patterns)
    ]
    assert not unexplained, f"{len(unexplained)} failures no row of {README.name} explains:\n" + "\n".join(unexplained)


def test_every_pattern_names_a_suite_check() -> None:
    """A misspelt or renamed check would explain nothing, silently. (A pattern may name no failure of the committed
    run: checks of tier "once" do not run there.)"""
    from conformance.suite import test_conformance as suite

    checks = [
        f"{cls}::{name}"
        for cls, value in vars(suite).items()
        if cls.startswith("Test") and isinstance(value, type)
        for name in dir(value)
        if name.startswith("test_")
    ]
    unknown = [p for _, row in rows() for p in row if not any(fnmatchcase(c, p.partition("[")[0]) for c in checks)]
    assert not unknown, f"patterns of {README.name} that name no check of the suite: {unknown}"


def test_every_row_has_a_reproduction() -> None:
    table = rows()
    assert len(table) > 10
    for script, _ in table:
        assert re.fullmatch(r"`\w+\.py`", script), f"a row without a reproduction script: {script}"
        assert (README.parent / script.strip("`")).is_file(), script


def test_patterns_match_as_documented() -> None:
    nodeid = "conformance/suite/test_conformance.py::TestStack::test_stack_uses_both_adapters[bert-par_bn]"
    assert matches("TestStack::test_stack_uses_both_adapters[par_bn]", "bert", nodeid)
    assert matches("TestStack::test_stack_uses_both_adapters[bert-par_bn]", "bert", nodeid)
    assert matches("TestStack::*[par_bn]", "bert", nodeid)
    assert matches("*[bert-par_bn]", "bert", nodeid)
    assert matches("TestStack::test_stack_uses_both_adapters", "bert", nodeid)
    assert not matches("TestStack::test_stack_uses_both_adapters[gpt2-par_bn]", "bert", nodeid)
    assert not matches("TestStack::test_stack_uses_both_adapters[seq_bn]", "bert", nodeid)
    assert not matches("TestStack::test_stack_uses_both_adapters[bn]", "bert", nodeid)
    assert not matches("TestParallel::*[par_bn]", "bert", nodeid)
    arch_only = "conformance/suite/test_conformance.py::TestReft::test_two_units_save_and_load[gpt2]"
    assert matches("TestReft::test_two_units_save_and_load", "gpt2", arch_only)
    assert matches("TestReft::test_two_units_save_and_load[gpt2]", "gpt2", arch_only)
    assert not matches("TestReft::test_two_units_save_and_load[bert]", "gpt2", arch_only)
