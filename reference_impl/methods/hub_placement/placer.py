"""What a placer is: it takes the definition's placements of a bottleneck config and returns them as the config's
``placement`` says; and the common kind, which changes each placement alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ...configs import BnConfig
from ...state import AdapterState, Layer, iter_layers
from ..base import Placement


Placer = Callable[[AdapterState, Any, BnConfig, Iterator[Placement]], Iterator[Placement]]


def sub_layer_of(placement: Placement) -> str:
    """``"ffn"`` for a placement after the FFN, ``"attention"`` for one after the attention."""
    return "ffn" if placement.location.endswith(".ffn_out") else "attention"


def placing_each(change: Callable[[BnConfig, Layer, Placement], Placement]) -> Placer:
    """A placer that, with ``placement="adapterhub"``, changes each of the definition's placements on its own
    (``change`` gets the config, the placement's layer and the placement)."""

    def place(state: AdapterState, model: Any, config: BnConfig, found: Iterator[Placement]) -> Iterator[Placement]:
        if config.placement != "adapterhub":
            return found
        layers = {layer.index: layer for layer in iter_layers(state, model)}
        return iter([change(config, layers[placement.layer_index], placement) for placement in found])

    return place
