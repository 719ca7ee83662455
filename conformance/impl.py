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


def active_setup(model: Any) -> Any:
    """The model's active setup in the suite's neutral form (``neutral_setup``), comparable across implementations."""
    return neutral_setup(current().active_setup(model))


def neutral_setup(setup: Any) -> Any:
    """A setup as nested tuples: ``(block name, children, options)``; a name or a list of names is a Stack, as
    AdapterHub reads it. Compares equal exactly when the blocks, children and options (splits, weights) do."""
    if setup is None:
        return None
    if isinstance(setup, str):
        return ("Stack", (setup,), ())
    if isinstance(setup, (list, tuple)):
        return ("Stack", tuple(_neutral_child(c) for c in setup), ())
    options = tuple(
        (option, tuple(value) if isinstance(value, (list, tuple)) else value)
        for option in ("splits", "batch_sizes", "weights")
        if (value := getattr(setup, option, None)) is not None
    )
    return (type(setup).__name__, tuple(_neutral_child(c) for c in setup.children), options)


def _neutral_child(child: Any) -> Any:
    return child if isinstance(child, str) else neutral_setup(child)


def head_config(model: Any, name: str) -> dict[str, Any]:
    """Head ``name``'s config as a dict (``head_type``, ``label2id``, ``tie_output``, ...)."""
    return current().head_config(model, name)


def serialization_options() -> dict[str, Any]:
    """Keyword arguments for the save_* / load_* calls that make the implementation write and read safetensors (the
    suite never accepts pickles)."""
    return dict(current().serialization_keywords)


def reset_adapter(model: Any, name: str) -> None:
    """Undo ``model.merge_adapter(name)``."""
    current().reset_adapter(model, name)


def load_adapter(model: Any, path: str, **kwargs: Any) -> Any:
    """Load an adapter (safetensors); a ``LoadResult`` with its name and missing / unexpected keys."""
    return current().load_adapter(model, path, **kwargs)


def load_head(model: Any, path: str, **kwargs: Any) -> Any:
    """Load a head (safetensors); a ``LoadResult`` with its name and missing / unexpected keys."""
    return current().load_head(model, path, **kwargs)


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


def fusion_config(data: str | dict[str, Any]) -> Any:
    """The config ``add_adapter_fusion`` takes: a name, or the fields that differ from the dynamic fusion's."""
    return current().fusion_config(data)


def fusion_parameters(model: Any, fusion: str) -> dict[str, torch.nn.Parameter]:
    return current().fusion_parameters(model, fusion)


def fusion_attentions(outputs: Any, fusion: str) -> dict[str, torch.Tensor]:
    """{fusion layer: attention scores, the fused adapters on dimension 0} of a forward pass's outputs."""
    return current().fusion_attentions(outputs, fusion)


def fusion_weights(model: Any, fusion: str) -> dict[str, torch.Tensor]:
    return current().fusion_weights(model, fusion)


def claimed_blocks(config: dict[str, Any]) -> frozenset[str] | None:
    """The composition blocks the implementation claims adapters of ``config`` take part in; None: no claim."""
    return current().claimed_blocks(config)


def skip_if_declared_gap(request: Any, key: str) -> None:
    """Skip the running check as a declared gap of the implementation when it declares ``key``: for a behaviour a
    parameter of the check selects (a fusion temperature), which the collection-time keys (check, method) cannot
    name. Recorded as a gap with the reason, exactly like a gap found at collection."""
    import pytest

    implementation = current()
    reason = implementation.gaps.get(key)
    if reason is not None:
        reason = f"implementation gap of {implementation.name}: {reason}"
        request.applymarker(pytest.mark.conformance_gap(reason))
        pytest.skip(reason)


def head_gap_key(spec: Any, kind: str) -> str:
    """The run-time gap key by which an implementation declares it does not offer head type ``kind`` on ``spec``'s
    architecture though transformers has a class for it (AdapterHub's T5 has no tagging head)."""
    return f"{spec.name}/{kind}_head"


def offers_head(spec: Any, kind: str) -> bool:
    """False where the implementation declares head type ``kind`` absent on this architecture (``head_gap_key``)."""
    return head_gap_key(spec, kind) not in current().gaps


def claimed_identity_at_init(config: Any) -> bool | None:
    """The implementation's claim that an adapter of ``config`` starts as the identity (None: no claim)."""
    return current().claimed_identity_at_init(config)


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


def trainer_class() -> type:
    return current().trainer_class()
