"""The trained part of prefix tuning: one pool per attention kind of a layer stack, giving each layer's prefix.

An adapter's pools live in one ``PrefixTuning`` module on the model-level holder site (``methods.model_level``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...configs.prefix_tuning import PrefixTuningConfig
from ..base import SiteAdapter
from ..gating import gate_of, record_gate


_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "swish": nn.SiLU, "silu": nn.SiLU}


@dataclass(frozen=True)
class PrefixShape:
    """What one pool must produce: prefixes for ``layers`` (global layer indices) of one attention kind."""

    stack: str  # the layer stack's name in the layout: "encoder", "decoder"
    kind: str  # "self_attention" or "cross_attention"
    layers: tuple[int, ...]
    kv_heads: int
    head_dim: int

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def key(self) -> str:
        return pool_key(self.stack, self.kind)


def pool_key(stack: str, kind: str) -> str:
    return f"{stack}_{kind}"


class PrefixTuning(SiteAdapter):
    """One prefix adapter: its pools by ``pool_key`` (e.g. ``decoder_cross_attention``). Run by the attention
    routes, never by a site hook."""

    def __init__(
        self,
        config: PrefixTuningConfig,
        shapes: tuple[PrefixShape, ...],
        hidden_size: int,
        generator: torch.Generator | None,
    ):
        super().__init__()
        self.pools = nn.ModuleDict({shape.key: PrefixPool(config, shape, hidden_size, generator) for shape in shapes})

    def pool(self, key: str) -> PrefixPool | None:
        return self.pools[key] if key in self.pools else None

    def apply(self, x: Any, output: Any, site: Any) -> Any:
        return output


class PrefixPool(nn.Module):
    """Every layer's prefix keys and values for one attention kind of one stack.

    Reparameterised (the default): an embedding of ``prefix_length`` rows, then ``up(act(down(.)))`` whose output
    holds the keys and values of all layers; each layer reads its own rows of ``up``. ``flat``: the keys and values
    are parameters themselves. With ``use_gating`` each layer has a gate over the attention's query tokens.
    """

    def __init__(
        self, config: PrefixTuningConfig, shape: PrefixShape, hidden_size: int, generator: torch.Generator | None
    ):
        super().__init__()
        self.shape = shape
        self.prefix_length = config.prefix_length
        self.flat = config.flat
        layers, length, kv_dim = len(shape.layers), config.prefix_length, shape.kv_dim
        if config.flat:
            self.prefix = nn.Parameter(torch.empty(layers, 2, length, kv_dim))
        else:
            self.embedding = nn.Parameter(torch.empty(length, hidden_size))
            self.down = nn.Linear(hidden_size, config.bottleneck_size)
            self.activation = _ACTIVATIONS[config.non_linearity]()
            self.up = nn.Linear(config.bottleneck_size, layers * 2 * kv_dim)
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        if config.use_gating:
            self.gates = nn.ModuleList(nn.Linear(hidden_size, 1) for _ in range(layers))
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        if self.flat:
            self.prefix.normal_(0.0, 1.0, generator=generator)
        else:
            self.embedding.normal_(0.0, 1.0, generator=generator)
            _uniform_linear(self.down, generator)
            _uniform_linear(self.up, generator)
        for gate in getattr(self, "gates", ()):
            _uniform_linear(gate, generator)

    def covers(self, layer_index: int) -> bool:
        return layer_index in self.shape.layers

    def key_values(self, layer_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's prefix keys and values, each (kv_heads, prefix_length, head_dim)."""
        at = self.shape.layers.index(layer_index)
        if self.flat:
            keys, values = self.prefix[at]
        else:
            hidden = self.activation(self.down(self.embedding))
            rows = slice(at * 2 * self.shape.kv_dim, (at + 1) * 2 * self.shape.kv_dim)
            both = nn.functional.linear(hidden, self.up.weight[rows], self.up.bias[rows])
            keys, values = both.view(self.prefix_length, 2, self.shape.kv_dim).unbind(1)
        return self._heads(self.dropout(keys)), self._heads(self.dropout(values))

    def _heads(self, flat: torch.Tensor) -> torch.Tensor:
        return flat.view(self.prefix_length, self.shape.kv_heads, self.shape.head_dim).transpose(0, 1)

    def gate(self, layer_index: int, hidden: torch.Tensor | None, name: str, location: str) -> torch.Tensor | None:
        """(batch, queries, 1): this layer's gate for each query token in ``hidden``; None without gating."""
        gates = getattr(self, "gates", None)
        if gates is None:
            return None
        if hidden is None:
            raise RuntimeError(f"prefix gate of adapter {name!r} at {location}: the attention's input was not seen")
        scores = gate_of(gates[self.shape.layers.index(layer_index)], hidden)
        record_gate(name, layer_index, location, scores)
        return scores


def _uniform_linear(linear: nn.Linear, generator: torch.Generator | None) -> None:
    bound = 1 / math.sqrt(linear.in_features)  # nn.Linear's own default range, drawn from ``generator``
    linear.weight.uniform_(-bound, bound, generator=generator)
    linear.bias.uniform_(-bound, bound, generator=generator)
