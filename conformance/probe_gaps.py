"""``--probe-gaps``: run the checks of declared gaps as expected failures (xfail, not strict) instead of skipping
them, and list the gaps whose checks all pass now, so that no gap outlives its reason. The records and the grid are
unchanged: a probed check stays a gap there, whatever its outcome."""

from __future__ import annotations

from typing import Any

import pytest


PREFIX = "probing a declared gap: "


def add_option(group: Any) -> None:
    group.addoption(
        "--probe-gaps",
        action="store_true",
        default=False,
        help="Run the checks of declared gaps as expected failures and list the gaps that pass now",
    )


class GapProbe:
    def __init__(self) -> None:
        self.outcomes: dict[str, dict[str, Any]] = {}  # by gap: {"reason", "passed": [nodeid], "failed": [nodeid]}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            gap = item.get_closest_marker("conformance_gap")
            if gap is None:
                continue
            item.own_markers[:] = [mark for mark in item.own_markers if mark.name != "skip"]
            item.add_marker(pytest.mark.xfail(reason=PREFIX + gap.args[0], strict=False))

    def pytest_runtest_logreport(self, report: Any) -> None:
        reason = getattr(report, "wasxfail", "")
        if not reason.startswith(PREFIX) or (report.passed and report.when != "call"):
            return  # not a probed gap, or a set-up / teardown that went fine
        cell = self.outcomes.setdefault(
            _cell_of(report), {"reason": reason[len(PREFIX) :], "passed": [], "failed": []}
        )
        cell["passed" if report.passed else "failed"].append(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("declared gaps probed")
        passing = {cell: found for cell, found in sorted(self.outcomes.items()) if not found["failed"]}
        terminalreporter.write_line(f"{len(passing)} of {len(self.outcomes)} probed gaps pass now")
        for cell, found in passing.items():
            terminalreporter.write_line(
                f"passes now: {cell} ({len(found['passed'])} checks); declared reason: {found['reason']}"
            )


def _cell_of(report: Any) -> str:
    """``arch feature [method]`` of a probed check, from the fields the plugin recorded on its report."""
    fields = next((value for key, value in report.user_properties if key == "conformance"), None) or {}
    parts = [fields.get("arch"), fields.get("feature"), fields.get("method")]
    return " ".join(str(part) for part in parts if part) or report.nodeid
