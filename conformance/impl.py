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
