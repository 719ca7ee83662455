"""How a prefix reaches each attention module, derived from the module itself, and keeping that in line with the
adapters present.

The route of an attention module is, in this order:
1. ``deberta_attention``: a module class with a path of its own (DeBERTa's disentangled attention);
2. ``attention_interface``: its forward looks the attention function up in transformers' registry;
3. ``projection_hooks``: it has separate key and value projections (it computes attention itself);
otherwise prefix tuning cannot reach it, and adding a prefix adapter says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from architectures.spec import AttentionSpec

from ...state import Layer, iter_layers
from ..model_level import held, holder_module
from . import deberta, interface
from .binding import FAMILY, PrefixBinding, binding_of
from .pool import pool_key
from .projection import ProjectionRoute


@dataclass(frozen=True)
class Target:
    """One attention module of the layout."""

    module: nn.Module
    layer: Layer
    kind: str
    attention: AttentionSpec

    @property
    def location(self) -> str:
        return f"{self.layer.stack.name}.{self.kind}.prefix"


def route_name(target: Target) -> str:
    """The route a prefix takes to ``target``; raises ValueError saying why there is none."""
    module = target.module
    if deberta.handles(module):
        return deberta.DebertaRoute.name
    if interface.dispatches(module):
        problem = interface.check_supported(module)
        if problem is not None:
            raise ValueError(f"{target.location} (layer {target.layer.index}): {problem}")
        return interface.InterfaceRoute.name
    if target.attention.k is not None and target.attention.v is not None:
        return ProjectionRoute.name
    raise ValueError(
        f"{target.location}: prefix tuning cannot reach {type(module).__name__}: it neither dispatches through "
        "transformers' attention functions nor has separate key and value projections"
    )


def gate_refusal(target: Target) -> str | None:
    """Why a gated prefix (``use_gating``, UniPELT) cannot reach ``target``, or None: the projection route only puts
    keys and values in front, and a gate scales the prefix's scores per query token."""
    if route_name(target) != ProjectionRoute.name:
        return None
    return (
        f"{target.location}: {type(target.module).__name__} computes attention in its own forward, and a gated "
        "prefix scales the prefix's scores per query token, which hooks on the key and value projections cannot "
        "express (it works where attention dispatches through transformers' attention functions)"
    )


def prefix_problems(model: nn.Module) -> tuple[str | None, str | None]:
    """Why no prefix reaches some attention of ``model`` (an initialised one), and why a gated prefix cannot: each
    None where it can."""
    unreachable = ungated = None
    for target in targets(model):
        try:
            refusal = gate_refusal(target)
        except ValueError as err:
            unreachable = unreachable or str(err)
            continue
        ungated = ungated or refusal
    return unreachable, ungated


def _make_route(target: Target, binding: PrefixBinding) -> Any:
    name = route_name(target)
    if name == deberta.DebertaRoute.name:
        return deberta.DebertaRoute(target.module, binding)
    if name == interface.InterfaceRoute.name:
        return interface.InterfaceRoute(target.module, binding)
    keys, values = target.layer.find(target.attention.k), target.layer.find(target.attention.v)
    return ProjectionRoute(target.module, binding, keys, values, target.layer.stack.causal)


def targets(model: nn.Module) -> list[Target]:
    """Every attention module of the model's layout."""
    state = model.adapter_state
    return [
        Target(layer.find(attention.module), layer, kind, attention)
        for layer in iter_layers(state, model)
        for kind, attention in layer.attentions()
    ]


def sync(model: nn.Module) -> None:
    """Bind every attention that some prefix adapter has a pool for, unbind the rest, restore unused configs."""
    holder = holder_module(model)
    keys = {key for adapter in held(model, FAMILY).values() for key in adapter.pools}
    everything = targets(model)
    for target in everything:
        key = pool_key(target.layer.stack.name, target.kind)
        binding = binding_of(target.module)
        if binding is not None and key not in keys:
            binding.route.uninstall()
        elif binding is None and key in keys:
            binding = PrefixBinding(model.adapter_state, holder, key, target.kind, target.layer.index, target.location)
            _make_route(target, binding).install()
    in_use = {
        id(t.module.config)
        for t in everything
        if isinstance(getattr(binding_of(t.module), "route", None), interface.InterfaceRoute)
    }
    for target in everything:
        config = getattr(target.module, "config", None)
        if config is not None and id(config) not in in_use:
            interface.restore_implementation(config)


def bound_routes(model: nn.Module) -> dict[str, str]:
    """``{"<stack>.<kind>": route}`` for every attention kind of the model that has prefix pools bound."""
    found = {}
    for target in targets(model):
        binding = binding_of(target.module)
        if binding is not None:
            found[f"{target.layer.stack.name}.{target.kind}"] = binding.route.name
    return found


def route_names(model: nn.Module) -> dict[str, str]:
    """The route a prefix would take to each attention kind of the model (bound or not): for reports."""
    found = {}
    for target in targets(model):
        try:
            found.setdefault(f"{target.layer.stack.name}.{target.kind}", route_name(target))
        except ValueError as err:
            found.setdefault(f"{target.layer.stack.name}.{target.kind}", f"none: {err}")
    return found
