"""The adapter setup in force: the model's active adapters, or the one an ``AdapterSetup`` block sets."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any


_SETUP: ContextVar[tuple[str, ...] | None] = ContextVar("adapter_setup", default=None)


def parse_setup(setup: Any) -> tuple[str, ...] | None:
    """A tuple of adapter names, applied in order, from a name, a list of names, a comma string or None."""
    if setup is None:
        return None
    if isinstance(setup, str):
        names = tuple(part.strip() for part in setup.split(",") if part.strip())
    elif isinstance(setup, (list, tuple)):
        names = tuple(setup)
    else:
        raise TypeError(f"an adapter setup is a name, a list of names or None, not {type(setup).__name__}")
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"an adapter setup needs at least one adapter name, got {setup!r}")
    return names


class AdapterSetup:
    """Within the block, every adapter model runs with ``adapter_setup`` active instead of its own active adapters."""

    def __init__(self, adapter_setup: Any):
        self.setup = parse_setup(adapter_setup)
        self._token = None

    def __enter__(self) -> AdapterSetup:
        self._token = _SETUP.set(self.setup)
        return self

    def __exit__(self, *exc: object) -> None:
        _SETUP.reset(self._token)


def context_setup() -> tuple[str, ...] | None:
    return _SETUP.get()
