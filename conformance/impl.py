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


def adapter_config(model: Any, name: str) -> Any:
    """Adapter ``name``'s config as the model keeps it; compare it with ``make_config(...)``."""
    return current().adapter_config(model, name)


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


def supports_block(config: dict[str, Any], block: str) -> bool:
    """Whether the implementation claims adapters of ``config`` take part in the composition block ``block``."""
    claimed = current().claimed_blocks(config)
    return claimed is not None and block in claimed


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
