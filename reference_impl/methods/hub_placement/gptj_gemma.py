"""Bottleneck adapters placed as AdapterHub ``adapters`` 1.3 places them on GPT-J and Gemma 2 / 3
(``BnConfig.placement="adapterhub"``), where its modeling code departs from the definition.

GPT-J (``adapters/models/gptj/modeling_gptj.py``): the block runs its two parallel sub-layers' adapters one after the
other, the FFN's with the block input plus the attention's output (after its adapters) as its residual input ``r'``:
the block outputs ``S_ffn(m, r + a')`` with ``a'`` the attention sub-layer's output, where the definition (transformers'
GPT-J) gives both sub-layers the block input ``r``. A forward hook on the attention module adds ``a'`` to the residual
input the FFN's site was fed (``r``), so every bottleneck method and composition block reads ``r'`` there.

Gemma 2 / 3 (AdapterHub's plugin interface, ``layer_ln_1`` / ``layer_ln_2`` = ``post_attention_layernorm`` /
``post_feedforward_layernorm``): a sequential adapter with ``original_ln_before`` reads ``N(h + r)``, ``N`` the norm
the model applies after the sub-layer, where the definition (pre-norm) reads ``h + r``. The adapter gets that norm;
the rest is the definition's (the model still applies ``N`` to the adapted output and adds ``r``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from torch import nn

from ...configs import AdapterConfig, BnConfig
from ...sites import site_of
from ...state import AdapterState, Layer, iter_layers
from ..base import Placement
from ..model_level import ModelHook, install_hook, remove_hook
from .placer import placing_each, sub_layer_of


def _bottleneck_parts(config: AdapterConfig | None) -> Iterator[BnConfig]:
    """The bottleneck configs of ``config``: itself, or a union's bottleneck parts."""
    for part in getattr(config, "parts", (config,)):
        if isinstance(part, BnConfig):
            yield part


def _hub_ffn_placed(state: AdapterState) -> bool:
    """Whether the model holds a bottleneck after the FFN placed as AdapterHub places it."""
    return any(
        part.output_adapter and part.placement == "adapterhub"
        for config in state.configs.values()
        for part in _bottleneck_parts(config)
    )


# ----- GPT-J -----
class AttentionIntoFfnResidual(ModelHook):
    """Forward hook on a GPT-J layer's attention: its output joins the residual input of the FFN's adapters."""

    attribute = "_adapter_hub_ffn_residual"

    def __init__(self, ffn_out: nn.Module, state: AdapterState):
        self.ffn_out = ffn_out
        self.state = state

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        site = site_of(self.ffn_out)
        # inert while the model holds no AdapterHub-placed FFN adapter (an add that failed before on_delete ran)
        if site is None or site.residual_input is None or not _hub_ffn_placed(self.state):
            return
        attention = output[0] if isinstance(output, tuple) else output
        site.residual_input = site.residual_input + attention


def _gptj(state: AdapterState, model: Any, config: BnConfig, found: Iterator[Placement]) -> Iterator[Placement]:
    found = list(found)
    if not config.output_adapter:
        return iter(found)  # the attention's adapters read the block input, as in the definition
    # before "definition" returns: a definition-placed FFN adapter is refused beside an AdapterHub-placed one too
    mixed = [
        part.placement
        for c in state.configs.values()
        for part in _bottleneck_parts(c)
        if part.output_adapter and part.placement != config.placement
    ]
    if mixed:
        raise ValueError(
            "GPT-J: a bottleneck after the FFN placed as AdapterHub places it (placement='adapterhub') reads the block "
            "input plus the attention output, one placed as defined the block input: the FFN's adapters share one "
            "residual input, so a model holds FFN bottlenecks of one placement; it has one with placement="
            f"{mixed[0]!r}"
        )
    if config.placement != "adapterhub":
        return iter(found)
    layers = {layer.index: layer for layer in iter_layers(state, model)}
    for place in found:
        if sub_layer_of(place) == "ffn":
            layer = layers[place.layer_index]
            hook = AttentionIntoFfnResidual(place.module, state)
            install_hook(layer.find(layer.stack.self_attention.module), hook)
    return iter(found)


def remove_gptj_hooks(model: Any, state: AdapterState) -> None:
    """Remove the attention hooks once no AdapterHub-placed FFN bottleneck is left."""
    if state.spec.name != "gptj" or _hub_ffn_placed(state):
        return
    for layer in iter_layers(state, model):
        remove_hook(layer.find(layer.stack.self_attention.module), AttentionIntoFfnResidual.attribute)


# ----- Gemma 2 / 3 -----
_GEMMA_POST_NORMS = {"attention": "post_attention_layernorm", "ffn": "post_feedforward_layernorm"}


def _post_norm_as_layer_norm(config: BnConfig, layer: Layer, placement: Placement) -> Placement:
    return dataclasses.replace(placement, norm=layer.find(_GEMMA_POST_NORMS[sub_layer_of(placement)]))


def _gemma(state: AdapterState, model: Any, config: BnConfig, found: Iterator[Placement]) -> Iterator[Placement]:
    if config.placement == "adapterhub" and not config.original_ln_after:
        # AdapterHub's plugin interface leaves the residual and norm to the model (LAYER_HOOK_UNSUPPORTED)
        raise ValueError(
            f"{state.spec.name}: AdapterHub refuses original_ln_after=False on the models of its plugin interface; "
            "placement='adapterhub' has no placement for it"
        )
    return placing_each(_post_norm_as_layer_norm)(state, model, config, found)


PLACERS = {"gptj": _gptj, "gemma2": _gemma, "gemma3_text": _gemma}
