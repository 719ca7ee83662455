"""Bottleneck adapters (sequential and parallel)."""

from __future__ import annotations

import torch
from torch import nn

from ..configs import BnConfig


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


class Bottleneck(nn.Module):
    """``x + scaling * up(act(down(source)))`` where ``source`` is ``x`` (sequential) or the FFN input (parallel)."""

    def __init__(self, config: BnConfig, hidden_size: int, generator: torch.Generator | None = None):
        super().__init__()
        size = max(1, int(hidden_size // config.reduction_factor))
        self.down = nn.Linear(hidden_size, size)
        self.activation = _ACTIVATIONS[config.non_linearity]()
        self.up = nn.Linear(size, hidden_size)
        self.scaling = config.scaling
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
