"""AdapterHub's ReFT under canonical names ``<layer>.reft.<tensor>`` (see ``conformance.oracles.reft``).

AdapterHub's ``ReftModule`` has one unit (``tied_weights``) or two: ``units[0]`` for the prefix positions and
``units[1]`` for the suffix positions, the unused one kept all the same. Each unit: ``projection`` (R, r x hidden;
LoReFT's is an orthogonal parametrisation, written through only when orthonormal) and ``learned_source`` (W, b).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from conformance.weights import key

from .places import layers, modules_of_type
from .slots import Slot, stored


SITE = "reft"
ORTHONORMAL_ATOL = 1e-5


def _projection(unit: Any) -> Slot:
    projection = unit.projection
    if not hasattr(projection, "parametrizations"):
        return stored(projection.weight.detach())

    def write(value: torch.Tensor) -> None:
        gram = value.float() @ value.float().T
        if not torch.allclose(gram, torch.eye(gram.shape[0]), atol=ORTHONORMAL_ATOL):
            raise KeyError(
                "LoReFT's R is an orthogonal parametrisation in AdapterHub: only orthonormal rows are written"
            )
        projection.weight = value.reshape(projection.weight.shape).to(projection.weight.dtype)

    return Slot(lambda: projection.weight.detach().clone(), write)


def _unit(index: int, unit: Any, prefix: str) -> Iterator[tuple[str, Slot]]:
    yield key(index, SITE, f"{prefix}R"), _projection(unit)
    yield key(index, SITE, f"{prefix}W"), stored(unit.learned_source.weight.detach())
    yield key(index, SITE, f"{prefix}b"), stored(unit.learned_source.bias.detach())


def slots(model: Any, name: str) -> Iterator[tuple[str, Slot]]:
    for index, _, layer in layers(model):
        for module in modules_of_type(layer, "ReftLayer"):
            if name not in module.refts:
                continue
            reft = module.refts[name]
            if reft.tied_weights or reft.suffix_positions == 0:
                yield from _unit(index, reft.units[0], "")
            elif reft.prefix_positions == 0:
                yield from _unit(index, reft.units[1], "")
            else:
                yield from _unit(index, reft.units[0], "prefix_")
                yield from _unit(index, reft.units[1], "suffix_")
