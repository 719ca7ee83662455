"""AdapterHub's bottleneck adapters (and Compacter's PHM ones, UniPELT's adapter gates, AdapterFusion) under canonical
names (tensors and formula: ``conformance.oracles.bottleneck``; the reference's view: impls/reference/bottleneck.py).

AdapterHub's ``BottleneckLayer`` at ``mh_adapter`` (after the attention block) and ``output_adapter`` (after the FFN)
holds ``adapters[name]``: ``adapter_down`` (a Sequential whose projection is an ``nn.Linear`` or a ``PHMLayer``) and
``adapter_up``. A PHM layer keeps ``phm_rule`` and ``W`` itself or, when shared, in the model's
``shared_parameters[name]``; a factorised one keeps ``*_left`` / ``*_right`` factors (their product is derived).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from architectures.live import get_path
from conformance.weights import key

from .places import layers, modules_of_type
from .slots import Slot, derived, stored


LOCATION_SITES = {"mh_adapter": "attention_adapter", "output_adapter": "ffn_adapter"}
# BERT's cross-attention output is a BertSelfOutput too, so AdapterHub gives it an mh_adapter layer of its own
# (docs/adapters/repro/bert2bert.py): a site apart, else its tensors and the self-attention's share one name
CROSS_SITE = "cross_attention_adapter"


def bottleneck_layers(model: Any) -> Iterator[tuple[int, str, Any]]:
    for index, stack, layer in layers(model):
        cross = get_path(layer, stack.cross_attention.output) if stack.cross_attention is not None else None
        for module in modules_of_type(layer, "BottleneckLayer"):
            if module.location_key in LOCATION_SITES:
                holds_cross = cross is not None and any(part is cross for part in module.modules())
                yield index, CROSS_SITE if holds_cross else LOCATION_SITES[module.location_key], module


def _projection(sequential_or_layer: Any) -> Any:
    if isinstance(sequential_or_layer, torch.nn.Sequential):
        return next(m for m in sequential_or_layer if isinstance(m, torch.nn.Linear) or hasattr(m, "phm_dim"))
    return sequential_or_layer


def _phm(model: Any, name: str, projection: Any) -> dict[str, Slot]:
    shared = model.base_model.shared_parameters[name] if name in model.base_model.shared_parameters else {}
    role = projection.position

    def factor_or_tensor(owner: Any, plain: str, left: str, right: str, is_shared: bool) -> Slot:
        def get(attribute: str) -> Any:
            if is_shared:
                return owner[attribute] if attribute in owner else None
            return getattr(owner, attribute, None)

        if get(left) is not None:
            a, b = get(left), get(right)
            return derived(lambda: torch.bmm(a, b))
        tensor = get(plain)
        return stored(tensor.detach(), id(tensor) if is_shared else None)

    found = {}
    if projection.shared_phm_rule:
        found["phm_rule"] = factor_or_tensor(shared, "phm_rule", "phm_rule_left", "phm_rule_right", True)
    else:
        found["phm_rule"] = factor_or_tensor(projection, "phm_rule", "phm_rule_left", "phm_rule_right", False)
    if projection.shared_W_phm:
        found["phm_W"] = factor_or_tensor(shared, f"W_{role}", f"W_{role}_left", f"W_{role}_right", True)
    else:
        found["phm_W"] = factor_or_tensor(projection, "W", "W_left", "W_right", False)
    if projection.b is not None:
        found["bias"] = stored(projection.b.detach())
    return found


def slots(model: Any, name: str) -> Iterator[tuple[str, Slot]]:
    for index, site, module in bottleneck_layers(model):
        if name not in module.adapters:
            continue
        adapter = module.adapters[name]
        for role, part in (("down", adapter.adapter_down), ("up", adapter.adapter_up)):
            projection = _projection(part)
            if isinstance(projection, torch.nn.Linear):
                yield key(index, site, f"{role}.weight"), stored(projection.weight.detach())
                yield key(index, site, f"{role}.bias"), stored(projection.bias.detach())
            else:
                for tensor, slot in _phm(model, name, projection).items():
                    yield key(index, site, f"{role}.{tensor}"), slot
        for norm, attribute in (("ln_before", "adapter_norm_before"), ("ln_after", "adapter_norm_after")):
            layer_norm = getattr(adapter, attribute, None)  # the adapter's own norms (config ln_before, ln_after)
            if layer_norm is not None:
                yield key(index, site, f"{norm}.weight"), stored(layer_norm.weight.detach())
                yield key(index, site, f"{norm}.bias"), stored(layer_norm.bias.detach())
        gate = getattr(adapter, "gate", None)
        if gate is not None:
            yield key(index, site, "gate_weight"), stored(gate.weight.detach())
            yield key(index, site, "gate_bias"), stored(gate.bias.detach())


def fusion_slots(model: Any, fusion: str) -> Iterator[tuple[str, Slot]]:
    for index, site, module in bottleneck_layers(model):
        layer = module.adapter_fusion_layer[fusion] if fusion in module.adapter_fusion_layer else None
        if layer is None:
            continue
        for part in ("query", "key", "value"):
            linear = getattr(layer, part, None)
            if isinstance(linear, torch.nn.Linear):
                yield key(index, site, f"fusion.{part}.weight"), stored(linear.weight.detach())
                if linear.bias is not None:
                    yield key(index, site, f"fusion.{part}.bias"), stored(linear.bias.detach())
