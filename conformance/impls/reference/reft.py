"""ReFT (reference family ``reft``) under canonical names: ``<layer>.reft.<tensor>`` (see conformance.oracles.reft).

The reference keeps one ``ReftUnit`` per layer (``unit``) when one intervention serves every edited position, else a
``prefix_unit`` and a ``suffix_unit``. A unit's ``R`` is derived for LoReFT (the orthonormalised ``projection``):
writing an ``R`` with orthonormal rows writes it through exactly (the orthonormalisation leaves such a matrix as it
is); any other ``R`` cannot be the effective matrix and is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from conformance.weights import key

from .weights import register


FAMILY = "reft"
SITE = "reft"
ORTHONORMAL_ATOL = 1e-5


def _interventions(model: Any, name: str) -> Iterator[tuple[int, Any]]:
    from reference_impl.sites import sites

    for _, site in sites(model):
        module = site.adapters(name).get(FAMILY)
        if module is not None:
            yield site.layer_index, module


def _units(intervention: Any) -> dict[str, Any]:
    """Canonical tensor-name prefix -> unit: "" for one unit serving every edited position."""
    if hasattr(intervention, "unit"):
        return {"": intervention.unit}
    return {"prefix_": intervention.prefix_unit, "suffix_": intervention.suffix_unit}


def read(model: Any, name: str) -> dict[str, torch.Tensor]:
    found = {}
    for layer, intervention in _interventions(model, name):
        for prefix, unit in _units(intervention).items():
            found[key(layer, SITE, f"{prefix}R")] = unit.rotation().detach().clone()
            found[key(layer, SITE, f"{prefix}W")] = unit.learned_source.weight.detach().clone()
            found[key(layer, SITE, f"{prefix}b")] = unit.learned_source.bias.detach().clone()
    return found


@torch.no_grad()
def write(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    for layer, intervention in _interventions(model, name):
        for prefix, unit in _units(intervention).items():
            targets = {
                f"{prefix}R": unit.projection,
                f"{prefix}W": unit.learned_source.weight,
                f"{prefix}b": unit.learned_source.bias,
            }
            for tensor, target in targets.items():
                value = weights.get(key(layer, SITE, tensor))
                if value is None:
                    continue
                if tensor.endswith("R") and unit.orthogonal:
                    _check_orthonormal(key(layer, SITE, tensor), value)
                target.copy_(value)


def _check_orthonormal(name: str, value: torch.Tensor) -> None:
    gram = value.float() @ value.float().T
    if not torch.allclose(gram, torch.eye(gram.shape[0]), atol=ORTHONORMAL_ATOL):
        raise KeyError(
            f"{name}: LoReFT's R is derived (the orthonormalised projection) and only an R with orthonormal rows "
            "can be written; orthonormalise it first (e.g. torch.linalg.qr of its transpose)"
        )


register(FAMILY, read, write)
