"""UniPELT's gates (the reference's ``Gated`` wrappers around its bottleneck and LoRA parts) under canonical names.

``<layer>.<site>.gate_weight`` (1 x features) and ``gate_bias`` (1,) at the wrapped adapter's canonical site; a fused
qkv projection has one gate for its matrices, given under each adapted matrix's site (written only when every copy
given is the same). The wrapped adapters' own tensors are their families' (``bottleneck``, ``lora``); the prefix part
gates itself (``prefix``). Formula: ``conformance.oracles.union``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from conformance.weights import key

from .weights import register


FAMILY = "union_gates"  # not a reference family: the gates of a gated union's parts, read after the parts


def _gates(model: Any, name: str) -> Iterator[tuple[list[str], torch.nn.Linear]]:
    """(canonical "<layer>.<site>" places, gate Linear) of every gated part module of adapter ``name``."""
    from reference_impl.methods.lora import FusedProjectionAdapter
    from reference_impl.methods.union import Gated
    from reference_impl.sites import sites

    from .bottleneck import canonical_site
    from .lora import _canonical_site

    for _, site in sites(model):
        for family, module in site.adapters(name).items():
            if not isinstance(module, Gated):
                continue
            if family == "lora":
                where = _canonical_site(site.location)
                inner = module.inner
                matrices = inner.matrices if isinstance(inner, FusedProjectionAdapter) else None
                where = [f"{where.rpartition('.')[0]}.{m}" for m in matrices] if matrices else [where]
            else:
                where = [canonical_site(site.location)]
            yield [f"{site.layer_index}.{w}" for w in where], module.gate


def read(model: Any, name: str) -> dict[str, torch.Tensor]:
    found = {}
    for places, linear in _gates(model, name):
        for place in places:
            layer, _, site = place.partition(".")
            found[key(int(layer), site, "gate_weight")] = linear.weight.detach().clone()
            found[key(int(layer), site, "gate_bias")] = linear.bias.detach().clone()
    return found


@torch.no_grad()
def write(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    for places, linear in _gates(model, name):
        for tensor, target in (("gate_weight", linear.weight), ("gate_bias", linear.bias)):
            given = [
                weights[k]
                for p in places
                if (k := key(int(p.partition(".")[0]), p.partition(".")[2], tensor)) in weights
            ]
            if any(not torch.equal(value, given[0]) for value in given[1:]):
                raise ValueError(
                    f"adapter {name!r}: the sites {places} share one {tensor}, but the copies given differ; "
                    "give every copy the same value"
                )
            if given:
                target.copy_(given[0])


register(FAMILY, read, write)
