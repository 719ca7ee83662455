"""A one-line live status on a terminal: which architectures are running, how many checks are done, failures so far
and an estimate of the time left. Only when the output is a terminal and pytest is not verbose; otherwise pytest's
plain output is left as it is (dots, and the lines of -v)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


PLUGIN_NAME = "conformance-live-status"


def start_live_status(session: pytest.Session) -> LiveStatus | None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not wanted(config, reporter):
        return None
    reporter._show_progress_info = False  # the status line replaces pytest's "[ 12%]" column (it would break it)
    status = LiveStatus(session, reporter)
    config.pluginmanager.register(status, PLUGIN_NAME)
    return status


def _is_terminal(reporter: Any) -> bool:
    isatty = getattr(reporter, "isatty", False)  # a method in pytest 9, an attribute before
    return bool(isatty() if callable(isatty) else isatty)


def wanted(config: pytest.Config, reporter: Any) -> bool:
    return (
        reporter is not None
        and _is_terminal(reporter)
        and hasattr(reporter, "_show_progress_info")
        and config.get_verbosity() == 0
        and not config.option.collectonly
        and not hasattr(config, "workerinput")
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class LiveStatus:
    """Rewrites one terminal line after every finished test: ``[deberta] 312/812 checks, 2 failing, ETA 1m 05s``."""

    def __init__(self, session: Any, reporter: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.reporter = reporter
        self.clock = clock
        self.started: float | None = None
        self.done = 0
        self.failing = 0
        self.failed_ids: set[str] = set()
        self.running: dict[str, str] = {}  # worker (or "main") -> the architecture it ran last

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: Any, config: Any) -> Any:
        result = yield
        if result is None:
            return None
        category = result[0] if isinstance(result, tuple) else result.category
        return category, "", ""  # no letter, no word: the status line counts instead

    def pytest_runtest_logreport(self, report: Any) -> None:
        if self.started is None:
            self.started = self.clock()
        worker = getattr(getattr(report, "node", None), "gateway", None)
        arch = _arch_of(report)
        if arch:
            self.running[getattr(worker, "id", "main")] = arch
        if report.failed and report.nodeid not in self.failed_ids:
            self.failed_ids.add(report.nodeid)
            self.failing += 1
        if report.when == "teardown":
            self.done += 1
            self.reporter.rewrite(self.line(), erase=True)

    def line(self) -> str:
        total = max(int(getattr(self.session, "testscollected", 0) or 0), self.done)
        running = ", ".join(sorted(set(self.running.values()))) or "tests"
        text = f"[{running}] {self.done}/{total} done"
        if self.failing:
            text += f", {self.failing} failing"
        elapsed = self.clock() - self.started if self.started is not None else 0.0
        if 0 < self.done < total:
            text += f", ETA {_duration(elapsed / self.done * (total - self.done))}"
        elif self.done:
            text += f" in {_duration(elapsed)}"
        width = self.session.config.get_terminal_writer().fullwidth - 1
        return text if len(text) <= width else text[: width - 1] + "…"


def _arch_of(report: Any) -> str | None:
    from .recording import PROPERTY

    fields = next((value for key, value in getattr(report, "user_properties", ()) if key == PROPERTY), None)
    return fields.get("arch") if isinstance(fields, dict) else None
