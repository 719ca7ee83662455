"""Unions of configs (ConfigUnion, MAM, UniPELT): one adapter name, several method families' adapters.

``add_adapter`` asks this family for the parts of a union and adds each with its own family, so every part's modules
sit where a standalone adapter of that config would. UniPELT's LoRA and bottleneck parts are wrapped in a gate; its
prefix part gates itself (``PrefixTuningConfig.use_gating``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..configs import AdapterConfig
from ..configs.union import UnionConfigBase
from ..state import AdapterState
from .base import FAMILIES, MethodFamily, Placement, SiteAdapter, family_of, register_family
from .gating import gate_of, install_output_hooks, record_gate, remove_output_hooks


class Gated(SiteAdapter):
    """An adapter whose contribution is scaled by a gate: LoRA's update (``output + gate * (adapted - output)``), a
    bottleneck's output (``residual + gate * up``, then the sub-layer ends as the config says; UniPELT's ``G_A h_A``).

    The gate, ``sigmoid(linear(source))`` for each token, reads what the adapter reads: the module's input for stage-0
    adapters (LoRA), the adapter's input for stage-1 ones (the output, or the FFN input when parallel).
    """

    def __init__(self, inner: SiteAdapter, family_name: str, gate_features: int, generator: torch.Generator | None):
        super().__init__()
        self.inner = inner
        self.stage = inner.stage  # the site orders adapters by stage: the gate takes the wrapped adapter's
        self.family_name = family_name
        self.gate = nn.Linear(gate_features, 1)
        bound = 1 / math.sqrt(gate_features)
        with torch.no_grad():
            self.gate.weight.uniform_(-bound, bound, generator=generator)
            self.gate.bias.uniform_(-bound, bound, generator=generator)

    def apply(self, x: Any, output: torch.Tensor, site: Any) -> torch.Tensor:
        if self.stage == 0:  # LoRA: the gate scales the update, W x + b + g * delta
            gate = self._gate(x, site)
            adapted = self.inner.apply(x, output, site)
            return output + gate.to(output.dtype) * (adapted - output)  # (batch, sequence, 1): a gate per token
        source, residual, up = self.inner.parts(output, site)  # a bottleneck: the gate scales its output only
        gate = self._gate(source, site)
        return self.inner.finish(residual + gate.to(up.dtype) * up, site)

    def _gate(self, source: torch.Tensor, site: Any) -> torch.Tensor:
        gate = gate_of(self.gate, source)
        record_gate(self._name(site), site.layer_index, site.location, gate, site._state.batch_rows)
        return gate

    def _name(self, site: Any) -> str:
        return next(name for name, module in site[self.family_name].items() if module is self)


class GatedFamily:
    """A method family whose adapters come wrapped in a gate (same placements, same site entry, same hooks)."""

    def __init__(self, family: MethodFamily):
        self.family = family
        self.name = family.name

    def __getattr__(self, attribute: str) -> Any:  # attach, on_delete, ...: the wrapped family's
        return getattr(self.family, attribute)

    def placements(self, state: AdapterState, model: Any, config: AdapterConfig) -> Iterator[Placement]:
        return self.family.placements(state, model, config)

    def build(self, config: AdapterConfig, placement: Placement, state: AdapterState, generator: Any) -> Gated:
        inner = self.family.build(config, placement, state, generator)
        features = inner.in_features if inner.stage == 0 else state.hidden_size
        return Gated(inner, self.name, features, generator)


@register_family
class UnionFamily(MethodFamily):
    name = "union"
    supported_blocks = frozenset({"Stack"})

    def parts(self, config: UnionConfigBase) -> list[tuple[Any, AdapterConfig]]:
        """(family, config) for each part, in order; UniPELT's LoRA and bottleneck parts come gated."""
        found = []
        for part in config.parts:
            family = family_of(part)
            gated = config.gated and family.name != "prefix_tuning"  # a prefix gates itself
            found.append((GatedFamily(family) if gated else family, part))
        return found

    def placements(self, state: AdapterState, model: Any, config: AdapterConfig) -> Iterator[Placement]:
        raise TypeError("a union adds the adapters of its parts (UnionFamily.parts), not adapters of its own")

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        for family, _ in self.parts(state.configs[name]):
            family.attach(model, state, name)
        _gating_output(model, state)

    def on_delete(self, model: Any, state: AdapterState) -> None:
        # the deleted union's config is gone already: let every family drop what no remaining adapter needs
        for family in FAMILIES.values():
            if family is not self:
                family.on_delete(model, state)
        _gating_output(model, state)


def _unions(state: AdapterState) -> list[UnionConfigBase]:
    return [c for c in state.configs.values() if isinstance(c, UnionConfigBase)]


def _gating_output(model: nn.Module, state: AdapterState) -> None:
    """Accept ``output_adapter_gating_scores=True`` while the model has a gated adapter."""
    gated = any(c.gated for c in _unions(state))
    (install_output_hooks if gated else remove_output_hooks)(model)
