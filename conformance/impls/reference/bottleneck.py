"""The reference's bottleneck adapters (and Compacter's PHM ones) under canonical names.

Sites: ``<layer>.attention_adapter`` (after the attention block) and ``<layer>.ffn_adapter`` (after the FFN).
Linear bottlenecks: ``down.weight`` (b x h), ``down.bias``, ``up.weight`` (h x b), ``up.bias``. PHM bottlenecks
(Compacter): ``down.phm_rule`` (n x n x n), ``down.phm_W`` (n x h/n x b/n), ``down.bias`` and the same for ``up``,
with ``y = x @ sum_i kron(phm_rule[i], phm_W[i]) + bias``; the adapter's own layer norms: ``ln_before.weight``,
``ln_before.bias``, ``ln_after.weight``, ``ln_after.bias``; a low-rank or factorised tensor is given as its product
(read only), a tensor shared by every layer (``shared_phm_rule``, ``shared_W_phm``) is repeated under every layer
and site that uses it (written only when every copy given is the same). Fusion layers: ``<layer>.<site>.fusion.``
``query.weight``, ``query.bias``, ``key.weight``, ``key.bias``, ``value.weight`` where the fusion has them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from conformance.weights import key

from .weights import register


LOCATION_SITES = {"self_attention.output": "attention_adapter", "ffn_out": "ffn_adapter"}
ROLES = ("down", "up")


def canonical_site(location: str) -> str | None:
    """``"encoder.ffn_out"`` -> ``"ffn_adapter"``; None for a location that holds no bottleneck adapter."""
    _, _, rest = location.partition(".")
    return LOCATION_SITES.get(rest)


def bottlenecks(model: Any, name: str, family: str) -> Iterator[tuple[int, str, Any]]:
    """(layer, canonical site, module) of every bottleneck module of adapter ``name`` built by ``family``."""
    from reference_impl.sites import sites

    for _, site in sites(model):
        place = canonical_site(site.location)
        module = site.adapters(name).get(family)
        if place is not None and module is not None:
            yield site.layer_index, place, getattr(module, "inner", module)  # a gated adapter: its bottleneck


def _phm_tensors(projection: Any) -> dict[str, tuple[torch.Tensor, Any]]:
    """tensor name -> (effective value, the parameter to write or None when derived or shared)."""
    shared = projection.shared
    rule_owner = shared.weights if projection.shares_rule else projection.weights
    block_owner = shared.weights if projection.shares_blocks else projection.weights
    rule_param = None if rule_owner.factorized_rule else ("shared" if projection.shares_rule else rule_owner.phm_rule)
    blocks = getattr(block_owner, f"W_{projection.role}", None)
    block_param = None if block_owner.factorized_blocks else ("shared" if projection.shares_blocks else blocks)
    found = {
        "phm_rule": (rule_owner.rule(), rule_param, rule_owner, "phm_rule"),
        "phm_W": (block_owner.blocks(projection.role), block_param, block_owner, f"W_{projection.role}"),
    }
    if projection.bias is not None:
        found["bias"] = (projection.bias, projection.bias, None, None)
    return found


def _targets(model: Any, name: str, family: str) -> dict[str, tuple[torch.Tensor, Any]]:
    """canonical name -> (value, where to write it: a parameter, ("shared", owner, attribute) or None)."""
    found: dict[str, tuple[torch.Tensor, Any]] = {}
    for layer, site, module in bottlenecks(model, name, family):
        for norm in ("ln_before", "ln_after"):
            if getattr(module, norm, None) is not None:
                for tensor in ("weight", "bias"):
                    param = getattr(getattr(module, norm), tensor)
                    found[key(layer, site, f"{norm}.{tensor}")] = (param, param)
        for role in ROLES:
            projection = getattr(module, role)
            if isinstance(projection, torch.nn.Linear):
                found[key(layer, site, f"{role}.weight")] = (projection.weight, projection.weight)
                found[key(layer, site, f"{role}.bias")] = (projection.bias, projection.bias)
                continue
            for tensor, (value, param, owner, attribute) in _phm_tensors(projection).items():
                target = ("shared", owner, attribute) if isinstance(param, str) else param
                found[key(layer, site, f"{role}.{tensor}")] = (value, target)
    return found


def read(family: str):
    def read_family(model: Any, name: str) -> dict[str, torch.Tensor]:
        return {k: value.detach().clone() for k, (value, _) in _targets(model, name, family).items()}

    return read_family


def write(family: str):
    @torch.no_grad()
    def write_family(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
        targets = _targets(model, name, family)
        shared: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor, str]] = {}
        for canonical, value in weights.items():
            _, target = targets[canonical]
            if target is None:
                raise KeyError(f"{canonical!r} is derived (a product of low-rank factors); write its factors instead")
            if isinstance(target, tuple):
                _, owner, attribute = target
                parameter = getattr(owner, attribute)
                seen = shared.get((id(owner), attribute))
                if seen is not None and not torch.equal(seen[0], value):
                    raise ValueError(
                        f"{canonical!r} is shared by every layer of adapter {name!r}, but the copies given differ "
                        f"(first given as {seen[1]!r}); give every copy the same value"
                    )
                shared[(id(owner), attribute)] = (value, canonical, attribute)
                target = parameter
            target.copy_(value.reshape(target.shape).to(target.dtype))

    return write_family


def read_fusion(model: Any, fusion: str) -> dict[str, torch.Tensor]:
    """AdapterFusion ``fusion``'s projections under canonical names, per adapter layer."""
    from reference_impl.sites import FUSION, sites

    if fusion not in model.adapter_state.fusions:
        raise ValueError(f"no fusion {fusion!r}; fusions of this model: {sorted(model.adapter_state.fusions)}")
    found: dict[str, torch.Tensor] = {}
    for _, site in sites(model):
        place = canonical_site(site.location)
        if place is None or FUSION not in site or fusion not in site[FUSION]:
            continue
        module = site[FUSION][fusion]
        for part in ("query", "key", "value"):
            linear = getattr(module, part)
            if linear is None:
                continue
            found[key(site.layer_index, place, f"fusion.{part}.weight")] = linear.weight.detach().clone()
            if linear.bias is not None:
                found[key(site.layer_index, place, f"fusion.{part}.bias")] = linear.bias.detach().clone()
    return dict(sorted(found.items()))


for _family in ("bottleneck", "compacter"):
    register(_family, read(_family), write(_family))
