"""Shared set-up of the harness' self-tests."""

from __future__ import annotations

from typing import Any

import pytest


# pytester runs inner pytest sessions for the plugin's self-tests (tests/test_plugin.py).
pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mutants: a mutant of the catalogue (tests/mutants), run in a subprocess")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The kill table of the mutants that ran (under xdist too: the records travel with the reports)."""
    from tests.mutants.runner import Outcome, kill_table
    from tests.mutants.test_mutants import PROPERTY

    outcomes = [
        Outcome(**value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for key, value in getattr(report, "user_properties", ())
        if key == PROPERTY
    ]
    if outcomes:
        terminalreporter.section("mutant catalogue")
        for line in kill_table(sorted(outcomes, key=lambda o: o.name)):
            terminalreporter.write_line(line)
