"""One canonical tensor of AdapterHub's modules: how to read it and, where it is a stored tensor, how to write it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Slot:
    read: Callable[[], torch.Tensor]
    # None: derived (a product of factors, a reparametrisation); writing it raises KeyError
    write: Callable[[torch.Tensor], None] | None
    owner: int | None = None  # id of a tensor several canonical names share: every copy written must be the same


def stored(view: torch.Tensor, owner: int | None = None) -> Slot:
    """A slot over ``view``, a view of a parameter (a slice or reshape that shares its storage)."""

    def write(value: torch.Tensor) -> None:
        if value.numel() != view.numel():
            raise ValueError(f"expected {tuple(view.shape)} ({view.numel()} values), got {tuple(value.shape)}")
        view.copy_(value.reshape(view.shape).to(view.dtype))

    return Slot(lambda: view.detach().clone(), write, owner)


def derived(compute: Callable[[], torch.Tensor]) -> Slot:
    return Slot(lambda: compute().detach().clone(), None)
