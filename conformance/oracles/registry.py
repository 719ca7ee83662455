"""Which oracle defines which method: ``@defines("lora", "dora")`` on a ``MethodOracle`` subclass registers it.

The oracle modules register themselves on import; ``oracle_for`` imports them all (``conformance.oracles.ALL``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .base import MethodOracle


ORACLES: dict[str, MethodOracle] = {}

# Every oracle module; each registers the config names it defines.
MODULES: tuple[str, ...] = ("lora",)


def defines(*config_names: str) -> Callable[[type[MethodOracle]], type[MethodOracle]]:
    def register(cls: type[MethodOracle]) -> type[MethodOracle]:
        for name in config_names:
            if name in ORACLES:
                raise ValueError(f"two oracles define {name!r}: {type(ORACLES[name]).__name__} and {cls.__name__}")
            ORACLES[name] = cls()
        return cls

    return register


def oracle_for(config_name: str) -> MethodOracle:
    for module in MODULES:
        importlib.import_module(f"conformance.oracles.{module}")
    try:
        return ORACLES[config_name]
    except KeyError:
        raise LookupError(
            f"the suite has no oracle for {config_name!r}; known: {', '.join(sorted(ORACLES))}"
        ) from None
