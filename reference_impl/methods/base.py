"""The contract of a method family: where its adapters go and how one is built. A new method fills this in.

A family registers itself with ``register_family``; ``add_adapter`` then finds it by the config's ``method``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
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
    # LoRA on a fused qkv: the output features of each adapted matrix ({"q": index, "v": index})
    fused_outputs: Mapping[str, torch.Tensor] | None = None
    feeder: nn.Module | None = None  # bottleneck: the module whose input is the sub-layer's residual input
    norm: nn.Module | None = None  # bottleneck in a post-norm model: the sub-layer's layer norm
    hub_placement: Any = None  # bottleneck, placement="adapterhub": how AdapterHub departs from the definition here
    hooked: bool = True  # False: a model-level module on a holder site (no hook); its family runs it (attach)
    size: int | None = None  # the vector size the adapter transforms, where it is not the hidden size


class SiteAdapter(nn.Module):
    """An adapter module that lives on a site and changes the output of the module the site hooks.

    ``stage`` orders the adapters of one site: stage 0 updates the output from the module's input (LoRA),
    stage 1 transforms the output (bottleneck adapters).
    """

    stage: ClassVar[int] = 1

    def apply(self, x: torch.Tensor, output: torch.Tensor, site: AdapterSite) -> torch.Tensor:
        raise NotImplementedError


Combiner = Callable[[Sequence[Mapping[str, torch.Tensor]], Sequence[float]], dict[str, torch.Tensor]]


def linear_combination(
    sources: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]
) -> dict[str, torch.Tensor]:
    """Every parameter of the averaged adapter is the weighted sum of the same parameter of the sources."""
    return {key: sum(w * source[key] for w, source in zip(weights, sources, strict=True)) for key in sources[0]}


class MethodFamily:
    """Subclasses set ``name`` (the config's ``method``) and implement ``placements`` and ``build``.

    ``mergeable`` families' adapters implement ``merge_into(module)`` and ``unmerge_from(module)``.
    ``supported_blocks`` lists the composition blocks the family's adapters may take part in.
    """

    name: ClassVar[str] = ""
    mergeable: ClassVar[bool] = False
    # Composition blocks (class names from reference_impl.composition) whose children may be this family's adapters.
    supported_blocks: ClassVar[frozenset[str]] = frozenset({"Stack"})
    # How average_adapter combines the weights of adapters of this family, by combine_strategy; {} = not defined.
    combine_strategies: ClassVar[Mapping[str, Combiner]] = MappingProxyType({"linear": linear_combination})

    def placements(self, state: AdapterState, model: Any, config: AdapterConfig) -> Iterator[Placement]:
        raise NotImplementedError

    def build(
        self, config: AdapterConfig, placement: Placement, state: AdapterState, generator: torch.Generator | None
    ) -> SiteAdapter:
        raise NotImplementedError

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        """Called by add_adapter once every module of adapter ``name`` is on its site: link modules that share
        weights, install the family's own hooks outside the sites. Default: nothing."""

    def on_delete(self, model: Any, state: AdapterState) -> None:
        """Called by delete_adapter after an adapter of this family was removed: remove the family's own hooks that
        no remaining adapter needs. Default: nothing."""


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
