"""The contract of a method family: where its adapters go and how one is built. A new method fills this in.

A family registers itself with ``register_family``; ``add_adapter`` then finds it by the config's ``method``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn


if TYPE_CHECKING:
    from ..configs import AdapterConfig
    from ..sites import AdapterSite
    from ..state import AdapterState


@dataclass(frozen=True)
class Placement:
    """One adapter module to build: on ``module``, in layer ``layer_index``, at ``location``."""

    module: nn.Module
    layer_index: int
    location: str  # e.g. "encoder.self_attention.output", "decoder.ffn_out"
    out_index: torch.Tensor | None = None  # LoRA on a fused qkv: the output features it covers
    feeder: nn.Module | None = None  # parallel bottleneck: the module whose input feeds the adapter


class SiteAdapter(nn.Module):
    """An adapter module that lives on a site and changes the output of the module the site hooks.

    ``stage`` orders the adapters of one site: stage 0 updates the output from the module's input (LoRA),
    stage 1 transforms the output (bottleneck adapters).
    """

    stage: ClassVar[int] = 1

    def apply(self, x: torch.Tensor, output: torch.Tensor, site: AdapterSite) -> torch.Tensor:
        raise NotImplementedError


class MethodFamily:
    """Subclasses set ``name`` (the config's ``method``) and implement ``placements`` and ``build``.

    ``mergeable`` families' adapters implement ``merge_into(module)`` and ``unmerge_from(module)``.
    ``supported_blocks`` lists the composition blocks the family's adapters may take part in.
    """

    name: ClassVar[str] = ""
    mergeable: ClassVar[bool] = False
    # Composition blocks (class names from reference_impl.composition) whose children may be this family's adapters.
    supported_blocks: ClassVar[frozenset[str]] = frozenset({"Stack"})

    def placements(self, state: AdapterState, model: Any, config: AdapterConfig) -> Iterator[Placement]:
        raise NotImplementedError

    def build(
        self, config: AdapterConfig, placement: Placement, state: AdapterState, generator: torch.Generator | None
    ) -> SiteAdapter:
        raise NotImplementedError


FAMILIES: dict[str, MethodFamily] = {}


def register_family(family: type[MethodFamily]) -> type[MethodFamily]:
    if not family.name or family.name in FAMILIES:
        raise ValueError(f"{family.__name__}: family name {family.name!r} is empty or taken")
    FAMILIES[family.name] = family()
    return family


def family_of(config: AdapterConfig) -> MethodFamily:
    try:
        return FAMILIES[config.method]
    except KeyError:
        raise TypeError(f"the reference implementation has no method family {config.method!r}") from None
