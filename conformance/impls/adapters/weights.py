"""AdapterHub's adapter tensors under the suite's canonical names (conformance.weights): every family's slots, read
and written in one place. Each family's module says where AdapterHub keeps its tensors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from . import bottleneck, lora, model_level, reft
from .slots import Slot


FAMILIES: tuple[Callable[[Any, str], Iterator[tuple[str, Slot]]], ...] = (
    lora.slots,
    bottleneck.slots,
    model_level.prefix_slots,
    model_level.prompt_slots,
    model_level.invertible_slots,
    reft.slots,
)


def _slots(model: Any, name: str) -> dict[str, Slot]:
    if name not in model.adapters_config:
        raise ValueError(f"no adapter named {name!r}; adapters of this model: {sorted(model.adapters_config)}")
    found: dict[str, Slot] = {}
    for family in FAMILIES:
        found.update(family(model, name))
    return found


def read_weights(model: Any, name: str) -> dict[str, torch.Tensor]:
    return {k: slot.read() for k, slot in sorted(_slots(model, name).items())}


def read_fusion(model: Any, fusion: str) -> dict[str, torch.Tensor]:
    found = {k: slot.read() for k, slot in bottleneck.fusion_slots(model, fusion)}
    if not found:
        raise ValueError(f"no fusion {fusion!r} in any adapter layer of this model")
    return dict(sorted(found.items()))


@torch.no_grad()
def write_weights(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    slots = _slots(model, name)
    unknown = sorted(set(weights) - set(slots))
    if unknown:
        raise KeyError(f"adapter {name!r} has no canonical tensors {unknown}; it has {sorted(slots)}")
    derived = sorted(k for k in weights if slots[k].write is None)
    if derived:
        raise KeyError(
            f"{derived} are derived in AdapterHub (a product of factors, a reparametrisation): not writable"
        )
    shared: dict[int, tuple[str, torch.Tensor]] = {}
    for canonical, value in weights.items():
        owner = slots[canonical].owner
        if owner is not None:
            seen = shared.setdefault(owner, (canonical, value))
            if not torch.equal(seen[1], value):
                raise ValueError(
                    f"{canonical!r} and {seen[0]!r} are one shared tensor of adapter {name!r}, given different values"
                )
        slots[canonical].write(value)
