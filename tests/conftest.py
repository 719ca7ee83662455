"""Shared set-up of the harness' self-tests."""

from __future__ import annotations

from typing import Any

import pytest

from architectures import registry


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


# ----- inner sessions over a file of forward checks (tests of the plugin's records and options) -----

FORWARD_CHECKS_FILE = """
from conformance.checks import ForwardChecks


class TestForward(ForwardChecks):
    pass
"""


@pytest.fixture(scope="module")
def inner_preloaded() -> None:
    """Import what inner runs import before pytester snapshots sys.modules (torch cannot be loaded twice)."""
    import conformance.checks  # noqa: F401
    import conformance.grid  # noqa: F401
    import conformance.models  # noqa: F401
    import conformance.recording  # noqa: F401
    import reference_impl  # noqa: F401
    import reports.results  # noqa: F401
    from conformance.environment import environment

    registry.load_builtin()
    environment()


@pytest.fixture
def inner_run(inner_preloaded: None, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir with a file of forward checks; the registry is restored after in-process runs."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)  # the inner session is not one of the outer run's workers
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_checks=FORWARD_CHECKS_FILE)
    registry.load_builtin()
    before = dict(registry._REGISTRY)
    yield pytester
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)
