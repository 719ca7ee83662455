"""``BnConfig.placement="adapterhub"`` on BEiT and Phi: where AdapterHub ``adapters`` 1.3's modeling code puts a
bottleneck adapter there, as a rule the adapter applies around the definition's ``parts`` and ``finish``.

- BEiT (AdapterHub's ``BeitLayerWithAdapters``): the adapter reads the branch after the layer scale, ``lambda * h``
  (``lambda_1`` after the attention, ``lambda_2`` after the FFN), and its result replaces that scaled branch: the
  layer outputs ``r + A(lambda * h)`` where the definition gives ``r + lambda * A(h)``. The reference hooks the
  projection inside the scale, so the projection outputs ``A(lambda * h) / lambda``, which the layer scales back.
- Phi (AdapterHub's plugin interface, ``layer_pre_ffn=None``): the FFN's adapter gets no residual input, so it reads
  the FFN output ``h`` alone (``original_ln_before`` adds nothing to it); a parallel adapter there, which reads only
  the residual input, has nothing to read (AdapterHub crashes) and is refused. The attention's adapter is placed as
  the definition places it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from ...configs import BnConfig
from ...state import Layer
from ..base import Placement
from .placer import Placer, placing_each, sub_layer_of
from .rule import HubPlacement


class AfterLayerScale(HubPlacement):
    """BEiT: the adapter reads and replaces ``lambda * h``, the branch after the layer's scale ``lambda``."""

    def __init__(self, layer: torch.nn.Module, scale: str):
        self.layer = layer  # the model's own module: its scale is read when run (it trains, it loads)
        self.scale_name = scale

    def _scale(self) -> Any:
        scale = getattr(self.layer, self.scale_name, None)
        return 1.0 if scale is None else scale  # no layer scale (layer_scale_init_value <= 0): None in 4.x, 1.0 in 5.x

    def branch(self, output: torch.Tensor) -> torch.Tensor:
        return self._scale() * output

    def output(self, result: torch.Tensor) -> torch.Tensor:
        scale = self._scale()
        if bool(torch.as_tensor(scale).eq(0).any()):
            raise RuntimeError(
                f"placement='adapterhub' on BEiT: {self.scale_name} has a zero entry, where the layer scale discards "
                "what the hooked projection outputs, so the adapter's result cannot be placed after the scale"
            )
        return result / scale


class WithoutResidualInput(HubPlacement):
    """Phi's FFN: the adapter gets no residual input."""

    reads_residual_input = False


def beit(config: BnConfig, layer: Layer, sub_layer: str) -> HubPlacement:
    return AfterLayerScale(layer.module, "lambda_1" if sub_layer == "attention" else "lambda_2")


def phi(config: BnConfig, layer: Layer, sub_layer: str) -> HubPlacement | None:
    if sub_layer == "attention":
        return None
    if config.is_parallel:
        raise ValueError(
            f"{type(config).__name__}: placement='adapterhub' on phi: AdapterHub's Phi gives the FFN's adapter no "
            "residual input, and a parallel adapter reads nothing else (AdapterHub 1.3 crashes on it); use "
            "placement='definition'"
        )
    return WithoutResidualInput()


def _with_rule(rule: Callable[[BnConfig, Layer, str], HubPlacement | None]) -> Placer:
    """A placer that gives each of the definition's placements the rule for its sub-layer."""

    def change(config: BnConfig, layer: Layer, placement: Placement) -> Placement:
        site_rule = rule(config, layer, sub_layer_of(placement))
        return placement if site_rule is None else dataclasses.replace(placement, hub_placement=site_rule)

    return placing_each(change)


PLACERS = {"beit": _with_rule(beit), "phi": _with_rule(phi)}
