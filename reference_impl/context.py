"""The adapter setup in force: the model's active adapters, or the one an ``AdapterSetup`` block sets."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from .composition import CompositionBlock, parse_composition


_SETUP: ContextVar[CompositionBlock | None] = ContextVar("adapter_setup", default=None)
# False until the first AdapterSetup block opens; until then no context can hold a setup, so the hooks skip the
# ContextVar read (a per-call cost, and a graph break under torch.compile). It stays True: a context copied inside a
# block (a thread, an asyncio task) may still hold its setup after the block closed.
_EVER_SET = False


def parse_setup(setup: Any) -> CompositionBlock | None:
    """A validated composition block (a list or a comma string is a Stack), or None."""
    return parse_composition(setup)


class AdapterSetup:
    """Within the block, every adapter model runs with ``adapter_setup`` active instead of its own active adapters."""

    def __init__(self, adapter_setup: Any):
        self.setup = parse_setup(adapter_setup)
        self._tokens: list[Any] = []

    def __enter__(self) -> AdapterSetup:
        global _EVER_SET
        _EVER_SET = True
        self._tokens.append(_SETUP.set(self.setup))
        return self

    def __exit__(self, *exc: object) -> None:
        _SETUP.reset(self._tokens.pop())


def context_setup() -> CompositionBlock | None:
    return _SETUP.get() if _EVER_SET else None
