"""Where each method puts its adapters, read off the architecture spec. One function per method family."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .configs import AdapterConfig, BnConfig, LoRAConfig
from .methods.lora import projection_shape, qkv_index
from .state import AdapterState, iter_layers


@dataclass(frozen=True)
class Placement:
    """One adapter module to build: on ``module`` (a projection), in ``layer_index``, at ``location``."""

    module: nn.Module
    layer_index: int
    location: str  # e.g. "encoder.self_attention.output", "decoder.ffn_out"
    out_index: torch.Tensor | None = None  # LoRA on a fused qkv: the output features it covers
    feeder: nn.Module | None = None  # parallel bottleneck: the projection whose input feeds the adapter


def placements(state: AdapterState, model: Any, config: AdapterConfig) -> Iterator[Placement]:
    if isinstance(config, BnConfig):
        yield from _bottleneck(state, model, config)
    elif isinstance(config, LoRAConfig):
        yield from _lora(state, model, config)
    else:
        raise TypeError(f"the reference implementation cannot place {type(config).__name__}")


def _bottleneck(state: AdapterState, model: Any, config: BnConfig) -> Iterator[Placement]:
    for layer in iter_layers(state, model):
        if layer.index in config.leave_out:
            continue
        stack = layer.stack
        if config.mh_adapter:
            output = stack.self_attention.output
            yield Placement(layer.find(output), layer.index, f"{stack.name}.self_attention.output")
        if config.output_adapter:
            feeder = layer.find(stack.ffn_in) if config.is_parallel else None
            yield Placement(layer.find(stack.ffn_out), layer.index, f"{stack.name}.ffn_out", feeder=feeder)


def _lora(state: AdapterState, model: Any, config: LoRAConfig) -> Iterator[Placement]:
    projections = [m for m in config.attn_matrices if m != "o"]
    for layer in iter_layers(state, model):
        if layer.index in config.leave_out:
            continue
        name = layer.stack.name
        if config.selfattn_lora:
            for kind, attention in layer.attentions():
                where = f"{name}.{kind}"
                if attention.fused and projections:
                    module = layer.find(attention.qkv)
                    _, out_features, _ = projection_shape(module)
                    index = qkv_index(attention.qkv_layout, tuple(projections), out_features, state.num_heads)
                    yield Placement(module, layer.index, f"{where}.qkv", out_index=index)
                elif projections:
                    for matrix in projections:
                        yield Placement(layer.find(getattr(attention, matrix)), layer.index, f"{where}.{matrix}")
                if "o" in config.attn_matrices:
                    yield Placement(layer.find(attention.output), layer.index, f"{where}.output")
        if config.intermediate_lora:
            yield Placement(layer.find(layer.stack.ffn_in), layer.index, f"{name}.ffn_in")
        if config.output_lora:
            yield Placement(layer.find(layer.stack.ffn_out), layer.index, f"{name}.ffn_out")
