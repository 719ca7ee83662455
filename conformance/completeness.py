"""Which checks a run set out to run, so that a check that never reached a verdict is recorded as not run instead of
vanishing from its cell: a run stopped by ``-x`` or an interrupt, or a crashed xdist worker, leaves no cell ✅ that
had a check behind it that did not run.

Every process that collects (the only process, or each xdist worker) notes the conformance checks it collected; a
worker hands them to the controller in its ``workeroutput``, which any worker that finishes delivers.
"""

from __future__ import annotations

from typing import Any

import pytest

from .recording import record_fields


WORKER_OUTPUT_KEY = "conformance_expected"


class Completeness:
    def __init__(self, config: Any, recorder: Any | None) -> None:
        self.config = config
        self.recorder = recorder  # the controller's (or the only process') Recorder; None on a worker
        self.expected: dict[str, dict[str, Any]] = {}

    def pytest_collection_finish(self, session: Any) -> None:
        for item in session.items:
            fields = record_fields(item)
            if fields is not None:
                self.expected[item.nodeid] = fields
        if self.recorder is not None:
            self.recorder.expected.update(self.expected)

    def pytest_sessionfinish(self, session: Any) -> None:
        output = getattr(self.config, "workeroutput", None)
        if output is not None:
            output[WORKER_OUTPUT_KEY] = self.expected

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: absent under -p no:xdist
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        # the controller under xdist: what the worker collected (a crashed worker delivers nothing; others do)
        if self.recorder is not None:
            self.recorder.expected.update(getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY, {}))
