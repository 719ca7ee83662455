"""Invertible adapters (reference family ``invertible``) under canonical names (see conformance.oracles.invertible).

The family holds two kinds of modules under one site entry: the bottleneck adapters in the layers (translated as the
bottleneck family's, ``conformance.impls.reference.bottleneck``) and the coupling block on the model's holder site,
under ``model.invertible.<subnet>_<layer>[_bias]``. The reference's Glow subnets ``s2`` and ``s1`` are the canonical
``F`` and ``G``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from conformance.weights import key

from .weights import register


FAMILY = "invertible"
SITE = "invertible"
SUBNETS = {"F": ("F", "s2"), "G": ("G", "s1")}  # canonical subnet -> its name in NICE, in Glow


def _coupling(model: Any, name: str) -> Any | None:
    from reference_impl.methods.invertible import InvertibleAdapter
    from reference_impl.methods.model_level import held

    module = held(model, FAMILY).get(name)
    return module if isinstance(module, InvertibleAdapter) else None


def _linears(coupling: Any) -> Iterator[tuple[str, torch.nn.Linear]]:
    """(canonical tensor name without ``_bias``, the Linear) for each layer of each subnet."""
    for canonical, names in SUBNETS.items():
        subnet = next(getattr(coupling, n) for n in names if hasattr(coupling, n))
        first, _, last = subnet  # Linear, activation, Linear
        yield f"{canonical}_down", first
        yield f"{canonical}_up", last


def read(model: Any, name: str) -> dict[str, torch.Tensor]:
    from . import bottleneck

    found = bottleneck.read(FAMILY)(model, name)
    coupling = _coupling(model, name)
    if coupling is not None:
        for tensor, linear in _linears(coupling):
            found[key(None, SITE, tensor)] = linear.weight.detach().clone()
            found[key(None, SITE, f"{tensor}_bias")] = linear.bias.detach().clone()
    return found


@torch.no_grad()
def write(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    from . import bottleneck

    bottleneck.write(FAMILY)(model, name, {k: v for k, v in weights.items() if not k.startswith(f"model.{SITE}.")})
    coupling = _coupling(model, name)
    if coupling is None:
        return
    for tensor, linear in _linears(coupling):
        for suffix, target in (("", linear.weight), ("_bias", linear.bias)):
            value = weights.get(key(None, SITE, f"{tensor}{suffix}"))
            if value is not None:
                target.copy_(value)


register(FAMILY, read, write)
