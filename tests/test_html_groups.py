"""The HTML matrix groups identical failure reasons (issue 15): one reason listed once, with a count."""

from __future__ import annotations

import json
from pathlib import Path

from test_html import Page
from test_reports import check, dump, results_dict

from reports.html import failure_groups, render_html
from reports.matrix import build_matrix
from reports.results import load_results


REASON = "NotImplementedError: no canonical weight view for the reference family 'lora' yet"


def _matrix(tmp_path: Path) -> dict:
    checks = [check("bert", "lora", f"test_{i}", "failed", REASON) for i in range(21)]
    checks += [
        check("bert", "lora", "test_other", "error", "RuntimeError: boom"),
        check("bert", "lora", "test_fine", "passed"),
        check("bert", "lora", "test_spaced", "failed", "NotImplementedError:  no canonical weight view for the\n"
              "reference family 'lora' yet"),
    ]  # fmt: skip
    return build_matrix([load_results(dump(tmp_path / "r.json", results_dict(checks)))])


def test_identical_reasons_are_one_group_with_a_count_most_frequent_first(tmp_path: Path) -> None:
    (cell,) = _matrix(tmp_path)["architectures"][0]["cells"]["lora"].values()
    groups = failure_groups(cell["checks"])
    assert [(g["outcome"], g["reason"], g["count"]) for g in groups] == [
        ("failed", REASON, 22),  # whitespace aside, the same reason
        ("error", "RuntimeError: boom", 1),
    ]
    assert {c["check"] for c in groups[0]["checks"]} == {f"test_{i}" for i in range(21)} | {"test_spaced"}


def test_the_panel_and_the_hover_show_each_reason_once(tmp_path: Path) -> None:
    page = Page(render_html(_matrix(tmp_path)))
    (cell,) = [c for c in page.sections["5.24.0"] if (c["data-arch"], c["data-feature"]) == ("bert", "lora")]
    groups = json.loads(cell["data-failures"])  # what the click panel lists
    assert [(g["outcome"], g["count"]) for g in groups] == [("failed", 22), ("error", 1)]
    assert cell["title"].count("no canonical weight view") == 1
    assert f"failed: 22 checks: {REASON}" in cell["title"]
    assert "error: test_other[lora]: RuntimeError: boom" in cell["title"]
    passing = [c for c in page.sections["5.24.0"] if c["data-status"] == "passed"]
    assert all("data-failures" not in c for c in passing)
