"""``BnConfig.placement="adapterhub"`` on ModernBERT: AdapterHub ``adapters`` 1.3's plugin interface for it
(``adapters/wrappers/interfaces.py``) takes each sub-layer's own input as the bottleneck's residual input
(``layer_pre_self_attn="attn"``, ``layer_pre_ffn="mlp"``: the normed ``attn_norm(x)`` / ``mlp_norm(x)``), where the
definition takes the residual stream ``x``, and names ``mlp_norm`` as the layer norm after the attention
(``layer_ln_1``), which an attention adapter with ``original_ln_before`` applies to ``h + attn_norm(x)``. The model
then adds its residual to the adapted output as usual.
"""

from __future__ import annotations

import dataclasses

from ...configs import BnConfig
from ...state import Layer
from ..base import Placement
from .placer import placing_each, sub_layer_of


def _fed_by_the_sub_layer_input(config: BnConfig, layer: Layer, placement: Placement) -> Placement:
    stack = layer.stack
    if sub_layer_of(placement) == "ffn":  # fed by what the FFN's first projection reads: mlp_norm(x)
        return dataclasses.replace(placement, feeder=layer.find(stack.ffn_in))
    # fed by what the q/k/v projection reads, attn_norm(x); with mlp_norm as its layer norm
    attention = stack.self_attention
    return dataclasses.replace(
        placement, feeder=layer.find(attention.qkv or attention.q), norm=layer.find(stack.ffn_norm)
    )


PLACERS = {"modernbert": placing_each(_fed_by_the_sub_layer_input)}
