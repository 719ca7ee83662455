"""The implementation under test, as the checks reach it: module-level calls that go to the current
``conformance.interface.Implementation`` (the reference implementation unless ``use`` chose another)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .interface import Implementation


_CURRENT: Implementation | None = None


def current() -> Implementation:
    global _CURRENT
    if _CURRENT is None:
        from .impls.reference import IMPLEMENTATION

        _CURRENT = IMPLEMENTATION
    return _CURRENT


def use(implementation: Implementation) -> None:
    global _CURRENT
    _CURRENT = implementation


def init(model: Any, spec: Any) -> Any:
    return current().init(model, spec)


def adapter_setup(setup: Any) -> Any:
    return current().adapter_setup(setup)


def make_config(data: dict[str, Any]) -> Any:
    return current().make_config(data)


def composition() -> Any:
    """The namespace with the composition blocks (Stack, Parallel, Fuse, Split, BatchSplit, Average)."""
    return current().composition()


def adapter_parameters(model: Any, name: str) -> dict[str, torch.nn.Parameter]:
    return current().adapter_parameters(model, name)


def adapter_weights(model: Any, name: str) -> dict[str, torch.Tensor]:
    """Adapter ``name``'s tensors under the suite's canonical names (conformance.weights)."""
    return current().adapter_weights(model, name)


def set_adapter_weights(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    current().set_adapter_weights(model, name, weights)


def fusion_weights(model: Any, fusion: str) -> dict[str, torch.Tensor]:
    return current().fusion_weights(model, fusion)


def claimed_blocks(config: dict[str, Any]) -> frozenset[str] | None:
    """The composition blocks the implementation claims adapters of ``config`` take part in; None: no claim."""
    return current().claimed_blocks(config)


def gap_reason(feature: str, method: str | None = None, check: str | None = None) -> str | None:
    """The implementation's declared gap for ``feature``, ``method``, ``"feature:method"`` or ``check``, or None."""
    gaps = current().gaps
    keys = [feature, f"{feature}:{method}", method, check] if method else [feature, check]
    return next((gaps[key] for key in keys if key and key in gaps), None)


def load_model(directory: Any, model_class: str, spec: Any) -> tuple[Any, dict[str, Any]]:
    return current().load_model(directory, model_class, spec)


def adapter_model_from_config(spec: Any, config: Any = None) -> Any:
    return current().adapter_model_from_config(spec, config)


def adapter_model_from_static(static: Any, head_name: str = "default") -> Any:
    return current().adapter_model_from_static(static, head_name)


def static_from_adapter_model(model: Any, head_name: str, class_name: str) -> Any:
    return current().static_from_adapter_model(model, head_name, class_name)


def load_adapter_model(path: Any) -> Any:
    return current().load_adapter_model(path)
