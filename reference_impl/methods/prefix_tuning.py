"""Prefix tuning: trained key/value prefixes in front of each attention's own keys and values.

One pool per attention kind of each layer stack (encoder self-attention, decoder self-attention, cross-attention)
holds the prefixes of all its layers; an adapter's pools sit in one module on the model-level holder site. How the
prefix reaches each attention is in ``prefix.routes``; ``attach`` and ``on_delete`` keep the routes in line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..configs.prefix_tuning import PrefixTuningConfig
from ..state import AdapterState, Layer
from .base import MethodFamily, Placement, register_family
from .lora import projection_shape, qkv_sizes
from .model_level import HOLDER_LOCATION, MODEL_LEVEL, holder_module
from .prefix import PrefixShape, routes
from .prefix.binding import FAMILY
from .prefix.pool import PrefixTuning


@dataclass(frozen=True)
class PrefixPlacement(Placement):
    shapes: tuple[PrefixShape, ...] = ()


def _wanted(state: AdapterState, layer: Layer, kind: str, config: PrefixTuningConfig) -> bool:
    if kind == "cross_attention":
        return config.cross_prefix
    is_encoder = state.spec.is_encoder_decoder and layer.stack.cross_attention is None
    return config.encoder_prefix or not is_encoder


def key_value_shape(model: Any, state: AdapterState, target: routes.Target) -> tuple[int, int]:
    """(key/value heads, head size) of an attention, from its key projection and the model's config."""
    attention = target.attention
    kv_heads = getattr(model.config, "num_key_value_heads", None) or state.num_heads
    if attention.fused:  # the key block of the fused q, k and v
        out_features = projection_shape(target.layer.find(attention.qkv))[1]
        kv_dim = qkv_sizes(attention, out_features, state.num_heads, kv_heads)[1]
    else:
        kv_dim = projection_shape(target.layer.find(attention.k))[1]
    if kv_dim % kv_heads:
        raise ValueError(f"{target.location}: {kv_dim} key features do not split into {kv_heads} key/value heads")
    return kv_heads, kv_dim // kv_heads


@register_family
class PrefixTuningFamily(MethodFamily):
    name = FAMILY
    supported_blocks = frozenset({"Stack"})  # a Stack of prefix adapters concatenates their prefixes

    def placements(self, state: AdapterState, model: Any, config: PrefixTuningConfig) -> Iterator[Placement]:
        groups: dict[tuple[str, str], list[routes.Target]] = {}
        for target in routes.targets(model):
            if _wanted(state, target.layer, target.kind, config) and target.layer.index not in config.leave_out:
                routes.route_name(target)  # raises ValueError, before anything changes, where no route exists
                refusal = routes.gate_refusal(target) if config.use_gating else None
                if refusal is not None:
                    raise ValueError(f"use_gating: {refusal}")
                groups.setdefault((target.layer.stack.name, target.kind), []).append(target)
        shapes = []
        for (stack_name, kind), members in groups.items():
            kv_heads, head_dim = key_value_shape(model, state, members[0])
            layers = tuple(t.layer.index for t in members)
            shapes.append(PrefixShape(stack_name, kind, layers, kv_heads, head_dim))
        if shapes:
            yield PrefixPlacement(
                holder_module(model), MODEL_LEVEL, HOLDER_LOCATION, hooked=False, shapes=tuple(shapes)
            )

    def build(self, config: PrefixTuningConfig, placement: PrefixPlacement, state: AdapterState, generator: Any):
        return PrefixTuning(config, placement.shapes, state.hidden_size, generator)

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        routes.sync(model)  # bind the attentions that have a pool now

    def on_delete(self, model: Any, state: AdapterState) -> None:
        routes.sync(model)  # unbind those no remaining adapter has a pool for


def prefix_routes(model: nn.Module) -> dict[str, str]:
    """How a prefix reaches each attention kind of ``model`` (``{"encoder.self_attention": "projection_hooks"}``)."""
    return routes.route_names(model)


__all__ = ["PrefixTuningFamily", "prefix_routes"]
