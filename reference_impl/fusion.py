"""AdapterFusion (Pfeiffer et al., 2021): attention over the outputs of several adapters at one adapter layer."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class FusionConfig:
    """``query``/``key``/``value``: learn that projection (else identity). ``value_initialized``: start the value
    projection as the identity, so a fusion of identical adapters returns their output. ``temperature`` divides
    the attention scores. ``regularization``: ``get_fusion_regularization_loss`` pulls the value projection
    towards the identity."""

    key: bool = True
    query: bool = True
    value: bool = True
    value_initialized: bool = True
    temperature: float = 1.0
    regularization: bool = True

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"FusionConfig: temperature must be > 0, got {self.temperature!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FUSION_CONFIGS = {
    "dynamic": FusionConfig(),
    "static": FusionConfig(key=False, query=False, value=False, value_initialized=False, regularization=False),
}


def resolve_fusion_config(config: str | Mapping[str, Any] | FusionConfig) -> FusionConfig:
    if isinstance(config, FusionConfig):
        return config
    if isinstance(config, str):
        if config not in FUSION_CONFIGS:
            raise ValueError(f"unknown fusion config {config!r}; known: {', '.join(FUSION_CONFIGS)}")
        return FUSION_CONFIGS[config]
    if isinstance(config, Mapping):
        known = {f.name for f in dataclasses.fields(FusionConfig)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"FusionConfig has no field(s) {unknown}; fields: {sorted(known)}")
        return FusionConfig(**config)
    raise TypeError(f"expected a FusionConfig, 'dynamic', 'static' or a dict, not {type(config).__name__}")


class Fusion(nn.Module):
    """``residual + sum_i softmax_i(Q(query) . K(up_i) / temperature) V(up_i)`` over the fused adapters i."""

    def __init__(self, config: FusionConfig, hidden_size: int):
        super().__init__()
        self.temperature = config.temperature
        self.query = nn.Linear(hidden_size, hidden_size) if config.query else None
        self.key = nn.Linear(hidden_size, hidden_size) if config.key else None
        self.value = nn.Linear(hidden_size, hidden_size, bias=False) if config.value else None
        if self.value is not None and config.value_initialized:
            with torch.no_grad():
                self.value.weight.copy_(torch.eye(hidden_size))
        self.last_scores: torch.Tensor | None = None

    def forward(self, query: torch.Tensor, ups: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``query`` (..., H) is the last fused adapter's input, ``ups`` (k, ..., H) the adapters' bottleneck outputs,
        ``residual`` (..., H) what the fused output is added to."""
        query = self.query(query) if self.query is not None else query
        keys = self.key(ups) if self.key is not None else ups
        scores = torch.softmax((query.unsqueeze(0) * keys).sum(-1) / self.temperature, dim=0)
        values = self.value(ups) if self.value is not None else ups
        self.last_scores = scores.detach()
        return residual + (scores.unsqueeze(-1) * values).sum(0)

    def regularization_loss(self) -> torch.Tensor:
        if self.value is None:
            return torch.zeros(())
        eye = torch.eye(self.value.weight.shape[0], device=self.value.weight.device)
        return (self.value.weight - eye).pow(2).sum()
