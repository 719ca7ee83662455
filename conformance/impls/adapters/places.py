"""Layers and projections of a model with AdapterHub's adapters, found through the suite's spec (the layout's paths),
never through AdapterHub's own layer iteration, so that a misplaced adapter shows as a missing or extra tensor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from architectures.live import get_path, layers_of, resolve_layout


def layers(model: Any) -> Iterator[tuple[int, Any, Any]]:
    """(global layer index, the layout's stack, the layer module)."""
    spec = spec_of(model)
    index = 0
    for stack in resolve_layout(spec, model).stacks:
        for layer in layers_of(stack, model):
            yield index, stack, layer
            index += 1


def spec_of(model: Any) -> Any:
    """The suite's spec of ``model``: noted by ``init``, else (a model AdapterHub built itself: an adapter model from
    a config or a checkpoint) the registered spec of its model type."""
    spec = getattr(model, "conformance_spec", None)
    if spec is None:
        from architectures.registry import get

        spec = get(model.config.model_type)
    return spec


def projections(stack: Any, layer: Any) -> Iterator[tuple[str, Any]]:
    """(canonical site, module) of every projection the LoRA family can adapt in one layer; ``<kind>.qkv`` for a
    fused projection."""
    for kind, attention in (("self_attention", stack.self_attention), ("cross_attention", stack.cross_attention)):
        if attention is None:
            continue
        if attention.fused:
            yield f"{kind}.qkv", get_path(layer, attention.qkv)
        else:
            for matrix in ("q", "k", "v"):
                yield f"{kind}.{matrix}", get_path(layer, getattr(attention, matrix))
        yield f"{kind}.o", get_path(layer, attention.output)
    yield "ffn_in", get_path(layer, stack.ffn_in)
    yield "ffn_out", get_path(layer, stack.ffn_out)


def modules_of_type(layer: Any, class_name: str) -> Iterator[Any]:
    for module in layer.modules():
        if type(module).__name__ == class_name or any(c.__name__ == class_name for c in type(module).__mro__):
            yield module
