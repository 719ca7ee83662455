"""Compacter: the bottleneck family with PHM projections, and PHM weights shared once per adapter.

Placements are the bottleneck's. The weights an adapter shares across its layers (``shared_phm_rule``,
``shared_W_phm``) live once, in a ``PHMShared`` module on the model's holder site, so that they are saved, loaded,
averaged and deleted with the adapter like any other of its weights; ``attach`` links every PHM layer to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..configs.compacter import PhmOptions
from ..state import AdapterState
from .base import Placement, register_family
from .bottleneck import Bottleneck, BottleneckFamily, Projection, bottleneck_size
from .model_level import HOLDER_LOCATION, MODEL_LEVEL, held, holder_module, modules_of
from .phm import PHMLayer, PHMShared, check_divisible


@register_family
class CompacterFamily(BottleneckFamily):
    name = "compacter"

    def placements(self, state: AdapterState, model: Any, config: PhmOptions) -> Iterator[Placement]:
        size = bottleneck_size(config, state.hidden_size)
        check_divisible(config, state.hidden_size, size)  # fail before anything is built
        found = list(super().placements(state, model, config))
        if found and config.shares_weights:
            yield Placement(holder_module(model), MODEL_LEVEL, HOLDER_LOCATION, hooked=False)
        yield from found

    def build(self, config: PhmOptions, placement: Placement, state: AdapterState, generator: Any) -> Any:
        if not placement.hooked:
            size = bottleneck_size(config, state.hidden_size)
            return PHMShared(config, state.hidden_size, size, config.init_weights == "mam", generator)
        return super().build(config, placement, state, generator)

    def projection(self, config: PhmOptions, state: AdapterState, generator: Any) -> Projection:
        zero_up = config.init_weights == "mam"  # the identity at init, as "mam" promises for linear bottlenecks

        def make(in_features: int, out_features: int, role: str) -> PHMLayer:
            return PHMLayer(config, in_features, out_features, role, zero_up, generator)

        return make

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        shared = held(model, self.name).get(name)
        for module in modules_of(model, self.name, name):
            if isinstance(module, Bottleneck):
                for projection in (module.down, module.up):
                    if projection.needs_shared:
                        projection.link(shared)
