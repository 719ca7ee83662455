"""``BnConfig.placement="adapterhub"`` on ModernBERT: AdapterHub ``adapters`` 1.3's plugin interface for it
(``adapters/wrappers/interfaces.py``) takes each sub-layer's own input as the bottleneck's residual input
(``layer_pre_self_attn="attn"``, ``layer_pre_ffn="mlp"``: the normed ``attn_norm(x)`` / ``mlp_norm(x)``), where the
definition takes the residual stream ``x``, and names ``mlp_norm`` as the layer norm after the attention
(``layer_ln_1``), which an attention adapter with ``original_ln_before`` applies to ``h + attn_norm(x)``. The model
then adds its residual to the adapted output as usual.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ...configs import BnConfig
from ...state import AdapterState, iter_layers
from ..base import Placement


def _modernbert(state: AdapterState, model: Any, config: BnConfig, found: Iterator[Placement]) -> Iterator[Placement]:
    if config.placement != "adapterhub":
        return found
    layers = {layer.index: layer for layer in iter_layers(state, model)}
    placed = []
    for placement in found:
        layer = layers[placement.layer_index]
        stack = layer.stack
        if placement.location.endswith(".ffn_out"):  # fed by what the FFN's first projection reads: mlp_norm(x)
            placed.append(dataclasses.replace(placement, feeder=layer.find(stack.ffn_in)))
        else:  # fed by what the fused q/k/v projection reads, attn_norm(x); mlp_norm as its layer norm
            attention = stack.self_attention
            source = layer.find(attention.qkv or attention.q)
            placed.append(dataclasses.replace(placement, feeder=source, norm=layer.find(stack.ffn_norm)))
    return iter(placed)


PLACERS = {"modernbert": _modernbert}
