"""The live status line (issue 15): on a terminal one line says which architecture runs, how far the run is and
how long it has left; elsewhere pytest's plain output is untouched."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import test_plugin

from conformance.progress import LiveStatus
from conformance.recording import PROPERTY


inner = test_plugin.inner
preloaded = test_plugin.preloaded


class FakeReporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def rewrite(self, line: str, erase: bool = False) -> None:
        self.lines.append(line)


def _report(nodeid: str, arch: str | None, when: str = "teardown", failed: bool = False, worker: str | None = None):
    properties = [(PROPERTY, {"arch": arch})] if arch else []
    node = SimpleNamespace(gateway=SimpleNamespace(id=worker)) if worker else None
    return SimpleNamespace(nodeid=nodeid, when=when, failed=failed, user_properties=properties, node=node)


def _status(total: int, times: list[float]) -> tuple[LiveStatus, FakeReporter]:
    config = SimpleNamespace(get_terminal_writer=lambda: SimpleNamespace(fullwidth=100))
    session = SimpleNamespace(testscollected=total, config=config)
    reporter = FakeReporter()
    clock = iter(times)
    return LiveStatus(session, reporter, clock=lambda: next(clock)), reporter


def test_the_line_names_the_architecture_the_count_failures_and_the_time_left():
    status, reporter = _status(4, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    status.pytest_runtest_logreport(_report("a", "deberta", when="call"))  # starts the clock at 0
    status.pytest_runtest_logreport(_report("a", "deberta"))  # 1 of 4 done after 10 s
    assert reporter.lines[-1] == "[deberta] 1/4 done, ETA 30s"
    status.pytest_runtest_logreport(_report("b", "deberta", when="call", failed=True))
    status.pytest_runtest_logreport(_report("b", "deberta", failed=True))  # the same check once
    assert reporter.lines[-1] == "[deberta] 2/4 done, 1 failing, ETA 20s"
    status.pytest_runtest_logreport(_report("c", "gpt2"))
    status.pytest_runtest_logreport(_report("d", "gpt2"))
    assert reporter.lines[-1] == "[gpt2] 4/4 done, 1 failing in 40s"


def test_under_xdist_every_worker_s_architecture_is_named():
    status, reporter = _status(100, [0.0] + [1.0] * 10)
    status.pytest_runtest_logreport(_report("a", "deberta", worker="gw0"))
    status.pytest_runtest_logreport(_report("b", "gpt2", worker="gw1"))
    assert reporter.lines[-1].startswith("[deberta, gpt2] 2/100 done, ETA ")


def test_long_durations_read_as_minutes():
    status, reporter = _status(1000, [0.0, 125.0])
    status.pytest_runtest_logreport(_report("a", "t5"))
    assert reporter.lines[-1] == "[t5] 1/1000 done, ETA 34h 41m"


TTY_CONFTEST = """
import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    reporter.isatty = (lambda: True) if callable(reporter.isatty) else True  # as on a terminal
"""


def test_on_a_terminal_one_status_line_replaces_the_dots(inner):
    inner.makeconftest(TTY_CONFTEST)
    result = inner.runpytest("--arch=bert", "--method=lora", "-k", "identity or output")
    assert result.ret == 0
    # (the lines are split at the carriage returns the status line is rewritten with)
    result.stdout.fnmatch_lines(["test_checks.py*", "[[]bert[]] 1/2 done, ETA *", "[[]bert[]] 2/2 done in *"])
    text = result.stdout.str()
    assert "test_checks.py .." not in text and "[100%]" not in text


def test_elsewhere_the_output_stays_plain(inner):
    result = inner.runpytest("--arch=bert", "--method=lora", "-k", "identity or output")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["test_checks.py .. *[[]100%[]]"])
    assert "done" not in result.stdout.str().split("adapter conformance")[0]


@pytest.mark.parametrize("args", [("-v",), ("--collect-only",)])
def test_verbose_and_collect_only_runs_keep_pytest_s_output(inner, args):
    inner.makeconftest(TTY_CONFTEST)
    result = inner.runpytest("--arch=bert", "--method=lora", "-k", "identity", *args)
    assert "[bert] 1/" not in result.stdout.str()
