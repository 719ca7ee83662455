"""ReFT: LoReFT, NoReFT and DiReFT interventions on layer outputs at prefix and suffix positions.

Each adapted layer gets an intervention on the site of the layer module (the site's hook handles layers that return
a tuple as well as those that return a tensor). Which positions are prefix and suffix positions depends on the
padding: a forward pre-hook on each stack's input module (``PositionTracker``) reads the 2D attention mask and the
cache length, and the interventions of that stack read them back. Prefix positions count from the first non-padding
token; suffix positions end at the last one. In cached decoding steps the prefix positions are found by their
absolute position, and suffix positions are not intervened on: they were, in the step that saw the whole prompt.

LoReFT's projection ``R`` is kept orthonormal by construction: it is the Gram-Schmidt orthonormalisation of an
unconstrained matrix (a QR with a positive diagonal), equal to that matrix whenever its rows are orthonormal already.
Unlike torch's ``parametrizations.orthogonal``, which stores signs in the diagonal of its parameter, any value of the
parameter (randomised, averaged, loaded) gives an orthonormal ``R``, and there are no buffers to save.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from ..configs.reft import ReftConfig
from ..state import AdapterState, iter_layers
from .base import MethodFamily, Placement, SiteAdapter, register_family
from .bottleneck import _ACTIVATIONS
from .model_level import (
    ModelHook,
    cached_length,
    install_hook,
    keyword_arguments,
    remove_hook,
    stack_hosts,
)


def orthonormal_rows(matrix: torch.Tensor) -> torch.Tensor:
    """The rows of ``matrix`` (r x d, r <= d) orthonormalised in order (Gram-Schmidt, as a sign-fixed QR)."""
    q, upper = torch.linalg.qr(matrix.T.float())
    signs = torch.sign(torch.diagonal(upper))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return (q * signs).T.to(matrix.dtype)


class ReftUnit(nn.Module):
    """``h + R^T (act(W h + b) - R h)``; without ``subtract_projection`` the ``- R h`` term is dropped."""

    def __init__(self, config: ReftConfig, hidden_size: int, generator: torch.Generator | None):
        super().__init__()
        self.orthogonal = config.orthogonality
        self.subtract = config.subtract_projection
        self.linear_source = config.linear_source
        self.learned_source = nn.Linear(hidden_size, config.r)
        self.projection = nn.Parameter(torch.empty(config.r, hidden_size))
        self.activation = _ACTIVATIONS[config.non_linearity or "identity"]()
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.reset_parameters(config.init_weights, generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None) -> None:
        bound = 1 / math.sqrt(self.projection.shape[1])  # what nn.Linear draws, from the adapter's generator
        if self.orthogonal:
            self.projection.copy_(orthonormal_rows(torch.randn(self.projection.shape, generator=generator)))
        else:
            self.projection.uniform_(-bound, bound, generator=generator)
        self.learned_source.bias.zero_()
        if scheme == "identity":  # W = R (or 0 without the subtraction): the edit is exactly zero
            self.learned_source.weight.copy_(self.rotation() if self.subtract else 0.0)
        else:
            self.learned_source.weight.uniform_(-bound, bound, generator=generator)
            self.learned_source.bias.uniform_(-bound, bound, generator=generator)

    def rotation(self) -> torch.Tensor:
        """R: the projection, with orthonormal rows for LoReFT."""
        return orthonormal_rows(self.projection) if self.orthogonal else self.projection

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        rotation = self.rotation()
        if self.subtract and self.linear_source:  # (W h + b) - R h as one product: exactly zero when W = R
            edit = functional.linear(hidden, self.learned_source.weight - rotation, self.learned_source.bias)
        else:
            edit = self.activation(self.learned_source(hidden))
            if self.subtract:
                edit = edit - functional.linear(hidden, rotation)
        return self.dropout(hidden + edit @ rotation)


class PositionTracker(ModelHook):
    """Forward pre-hook on a stack's input module: remembers where the non-padding tokens of the call are.

    Kept after the call on purpose: gradient checkpointing reruns the layers in the backward pass and must find the
    positions of the same call again.
    """

    attribute = "_adapter_reft_positions"

    def __init__(self) -> None:
        self.mask: torch.Tensor | None = None
        self.past = 0

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        found = keyword_arguments(module, args, kwargs)
        mask = found.get("attention_mask")
        self.mask = mask if isinstance(mask, torch.Tensor) and mask.dim() == 2 else None
        self.past = cached_length(found)
        return None

    def frame(self, batch: int, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(first, end, offset): per row the first non-padding position and one past the last, in absolute
        positions; ``offset`` is the absolute position of the first of the ``length`` positions seen now."""
        mask, past = self.mask, self.past
        if mask is not None and mask.shape == (batch, past + length):
            present = mask.to(device) != 0
            first = present.int().argmax(dim=1)
            end = present.shape[1] - present.flip(1).int().argmax(dim=1)
            return first, end, past
        return (
            torch.zeros(batch, dtype=torch.long, device=device),
            torch.full((batch,), past + length, device=device),
            past,
        )


class ReftIntervention(SiteAdapter):
    """The intervention of one layer: a unit for prefix positions and one for suffix positions (or one, tied)."""

    stage = 1

    def __init__(self, config: ReftConfig, hidden_size: int, generator: torch.Generator | None):
        super().__init__()
        self.prefix_positions, self.suffix_positions = config.prefix_positions, config.suffix_positions
        both = config.prefix_positions and config.suffix_positions
        if config.tied_weights or not both:
            self.unit = ReftUnit(config, hidden_size, generator)
        else:
            self.prefix_unit = ReftUnit(config, hidden_size, generator)
            self.suffix_unit = ReftUnit(config, hidden_size, generator)
        self.__dict__["_tracker"] = None  # a plain reference to the stack's PositionTracker (see ReftFamily.attach)

    def link(self, tracker: PositionTracker) -> None:
        self.__dict__["_tracker"] = tracker

    def units(self) -> tuple[ReftUnit, ReftUnit]:
        if hasattr(self, "unit"):
            return self.unit, self.unit
        return self.prefix_unit, self.suffix_unit

    def masks(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Boolean (batch, length) masks of the prefix and suffix positions among ``hidden``'s positions."""
        batch, length = hidden.shape[:2]
        tracker = self.__dict__["_tracker"] or PositionTracker()
        first, end, offset = tracker.frame(batch, length, hidden.device)
        positions = torch.arange(offset, offset + length, device=hidden.device).unsqueeze(0)
        first, end = first.unsqueeze(1), end.unsqueeze(1)
        prefix = (positions >= first) & (positions < torch.minimum(first + self.prefix_positions, end))
        suffix = (positions >= torch.maximum(end - self.suffix_positions, first)) & (positions < end)
        return prefix, suffix & (offset == 0)

    def apply(self, x: Any, output: torch.Tensor, site: Any) -> torch.Tensor:
        prefix, suffix = self.masks(output)
        prefix_unit, suffix_unit = self.units()
        result = output
        # each unit runs on its own positions only: run on every position and then selected, it kept (batch, length,
        # hidden) activations per layer for the backward pass (peak memory 0.58 of full fine-tuning vs 0.43)
        if self.prefix_positions and bool(prefix.any()):
            result = result.index_put((prefix,), prefix_unit(output[prefix]))
        if self.suffix_positions and bool(suffix.any()):
            result = result.index_put((suffix,), suffix_unit(output[suffix]))
        return result


@register_family
class ReftFamily(MethodFamily):
    name = "reft"

    def placements(self, state: AdapterState, model: Any, config: ReftConfig) -> Iterator[Placement]:
        layers = list(iter_layers(state, model))
        if config.layers != "all":
            unknown = sorted(set(config.layers) - {layer.index for layer in layers})
            if unknown:
                raise ValueError(f"{config.name}: layers {unknown} do not exist; the model has {len(layers)} layers")
        if config.r > state.hidden_size:
            raise ValueError(f"{config.name}: r={config.r} exceeds the hidden size {state.hidden_size}")
        for layer in layers:
            if config.adapts(layer.index):
                yield Placement(layer.module, layer.index, f"{layer.stack.name}.layer")

    def build(self, config: ReftConfig, placement: Placement, state: AdapterState, generator: Any) -> ReftIntervention:
        return ReftIntervention(config, state.hidden_size, generator)

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        trackers = [install_hook(host, PositionTracker()) for host, _ in stack_hosts(model, state)]
        decoder_layers = {
            layer.index for layer in iter_layers(state, model) if layer.stack.cross_attention is not None
        }
        decoder = trackers[-1] if len(trackers) > 1 else trackers[0]
        for _, site in _sites_of(model, self.name, name):
            for module in site.adapters(name).values():
                if isinstance(module, ReftIntervention):
                    module.link(decoder if site.layer_index in decoder_layers else trackers[0])

    def on_delete(self, model: Any, state: AdapterState) -> None:
        if any(True for _, site in _sites_of(model, self.name, None)):
            return
        for host, _ in stack_hosts(model, state):
            remove_hook(host, PositionTracker.attribute)


def _sites_of(model: Any, family: str, name: str | None) -> Iterator[tuple[nn.Module, Any]]:
    from ..sites import sites

    for module, site in sites(model):
        if family in site and (name is None or name in site[family]):
            yield module, site
