"""The one seam between the checks and the implementation under test (the reference implementation by default)."""

from __future__ import annotations

from typing import Any


def init(model: Any, spec: Any) -> Any:
    from reference_impl import init as reference_init

    return reference_init(model, spec=spec)


def adapter_setup(setup: Any) -> Any:
    from reference_impl import AdapterSetup

    return AdapterSetup(setup)


def make_config(data: dict[str, Any]) -> Any:
    from reference_impl import resolve_config

    return resolve_config(data)


def supports_block(config: dict[str, Any], block: str) -> bool:
    """Whether the implementation lets adapters of ``config`` take part in the composition block ``block``."""
    from reference_impl.methods import family_of

    return block in family_of(make_config(config)).supported_blocks


def composition() -> Any:
    """The module with the composition blocks (Stack, Parallel, Fuse, Split, BatchSplit, Average)."""
    import reference_impl

    return reference_impl
