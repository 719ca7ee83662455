"""Bottleneck adapters (sequential and parallel), placed after the attention output and/or the FFN output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..configs import BnConfig
from ..state import AdapterState, iter_layers
from .base import MethodFamily, Placement, SiteAdapter, register_family


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


# (in_features, out_features, role "down" or "up") -> the projection module; it initialises its own weights
Projection = Callable[[int, int, str], nn.Module]


def bottleneck_size(config: BnConfig, hidden_size: int) -> int:
    return max(1, int(hidden_size // config.reduction_factor))


class Bottleneck(SiteAdapter):
    """``x + scaling * up(act(down(source)))`` where ``source`` is ``x`` (sequential) or the FFN input (parallel).

    ``projection`` builds ``down`` and ``up`` (nn.Linear by default; Compacter's PHM layers otherwise).
    """

    stage = 1

    def __init__(
        self,
        config: BnConfig,
        hidden_size: int,
        generator: torch.Generator | None = None,
        projection: Projection | None = None,
    ):
        super().__init__()
        size = bottleneck_size(config, hidden_size)
        make = projection or (lambda in_features, out_features, role: nn.Linear(in_features, out_features))
        self.down = make(hidden_size, size, "down")
        self.activation = _ACTIVATIONS[config.non_linearity]()
        self.up = make(size, hidden_size, "up")
        self.scaling = config.scaling
        self.is_parallel = config.is_parallel
        if projection is None:
            self.reset_parameters(config.init_weights, generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.bias)
        if scheme == "mam":
            bound = 1 / self.down.in_features**0.5
            self.down.weight.uniform_(-bound, bound, generator=generator)
            nn.init.zeros_(self.up.weight)
        else:  # "bert": near-identity, not identity
            self.down.weight.normal_(0.0, 0.01, generator=generator)
            self.up.weight.normal_(0.0, 0.01, generator=generator)

    def forward(self, hidden: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        source = hidden if source is None else source
        return hidden + self.scaling * self.up(self.activation(self.down(source)))

    def apply(self, x: torch.Tensor, output: torch.Tensor, site: Any) -> torch.Tensor:
        if not self.is_parallel:
            return self(output)
        if site.parallel_input is None:
            raise RuntimeError(f"parallel adapter at {site.location} ran before its FFN input was seen")
        return self(output, site.parallel_input)


@register_family
class BottleneckFamily(MethodFamily):
    name = "bottleneck"
    supported_blocks = frozenset({"Stack", "Fuse", "Parallel", "Split", "BatchSplit", "Average"})

    def placements(self, state: AdapterState, model: Any, config: BnConfig) -> Iterator[Placement]:
        for layer in iter_layers(state, model):
            if layer.index in config.leave_out:
                continue
            stack = layer.stack
            if config.mh_adapter:
                output = stack.self_attention.output
                yield Placement(layer.find(output), layer.index, f"{stack.name}.self_attention.output")
            if config.output_adapter:
                feeder = layer.find(stack.ffn_in) if config.is_parallel else None
                yield Placement(layer.find(stack.ffn_out), layer.index, f"{stack.name}.ffn_out", feeder=feeder)

    def build(self, config: BnConfig, placement: Placement, state: AdapterState, generator: Any) -> Bottleneck:
        return Bottleneck(config, state.hidden_size, generator, self.projection(config, state, generator))

    def projection(self, config: BnConfig, state: AdapterState, generator: Any) -> Projection | None:
        """How subclasses build the down- and up-projections; None: nn.Linear."""
        return None
