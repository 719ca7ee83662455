"""A snapshot of one adapter (config, tensors, trainable flags, the fusions over it, the active setup), so that a
call replacing it can put the old one back when the new one fails half-way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .composition import CompositionBlock
from .fusion import FusionConfig
from .sites import adapter_name_in_key


def _owned_tensors(model: Any, owners: set[str]) -> dict[str, torch.Tensor]:
    """Parameters and buffers of the adapters and fusions named in ``owners``, by their key in the model."""
    named = dict(model.named_parameters())
    named.update(dict(model.named_buffers()))
    return {key: value for key, value in named.items() if adapter_name_in_key(key) in owners}


def _fusions_over(model: Any, name: str) -> dict[str, FusionConfig]:
    return {fusion: config for fusion, config in model.adapter_state.fusions.items() if name in fusion.split(",")}


@dataclass(frozen=True)
class AdapterSnapshot:
    name: str
    config: Any
    fusions: dict[str, FusionConfig]
    tensors: dict[str, torch.Tensor]
    trainable: dict[str, bool]
    active: CompositionBlock | None

    @classmethod
    def take(cls, model: Any, name: str) -> AdapterSnapshot:
        fusions = _fusions_over(model, name)
        owned = _owned_tensors(model, {name, *fusions})
        return cls(
            name=name,
            config=model.adapter_state.configs[name],
            fusions=fusions,
            tensors={key: value.detach().clone() for key, value in owned.items()},
            trainable={key: value.requires_grad for key, value in owned.items()},
            active=model.adapter_state.active,
        )

    def restore(self, model: Any) -> None:
        """Rebuild the adapter and its fusions exactly as they were; call it once whatever replaced them is gone."""
        model.add_adapter(self.name, self.config)
        for fusion, config in self.fusions.items():
            model.add_adapter_fusion(fusion, config)
        owned = _owned_tensors(model, {self.name, *self.fusions})
        if set(owned) != set(self.tensors):  # a rebuild from the same config gives the same modules, or this is a bug
            raise RuntimeError(f"restoring adapter {self.name!r} gave other tensors than it had: {sorted(owned)[:3]}")
        with torch.no_grad():
            for key, value in owned.items():
                value.copy_(self.tensors[key])
                if isinstance(value, torch.nn.Parameter):
                    value.requires_grad_(self.trainable[key])
        model.adapter_state.active = self.active
