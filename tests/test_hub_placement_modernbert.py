"""``BnConfig.placement`` on ModernBERT, where AdapterHub's plugin interface feeds a bottleneck adapter the sub-layer's
own (normed) input as its residual input, and names ``mlp_norm`` as the layer norm after the attention: the
reference's output equals hooks on the plain model that apply each placement's formula (``h`` the output projection's
output, ``x`` the residual stream, ``N_a`` / ``N_m`` the attention's / FFN's pre-norm):

- definition: an adapter reads ``h + x`` (``original_ln_before``) or, parallel, ``x``;
- AdapterHub: the FFN's adapter reads ``h + N_m(x)`` or, parallel, ``N_m(x)``; the attention's
  ``N_m(h + N_a(x))``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from test_hub_placement_beit_phi import _down, _output, _reference, _up, _weights
from torch.nn import functional

from architectures.live import build_model
from architectures.registry import get
from reference_impl.configs import ParBnConfig, SeqBnConfig


MODERNBERT = get("modernbert")
CONFIGS = {"seq_bn": SeqBnConfig(mh_adapter=True, reduction_factor=4), "par_bn": ParBnConfig(reduction_factor=4)}


def _bottleneck(w: dict, x: torch.Tensor, scaling: float) -> torch.Tensor:
    return scaling * _up(w, functional.relu(_down(w, x)))


def _hooked(weights: dict[str, dict], config: Any, placement: str) -> torch.Tensor:
    model = build_model(MODERNBERT)
    for index, layer in enumerate(model.layers):
        seen: dict[str, torch.Tensor] = {}
        for norm, key in ((layer.attn_norm, "attention"), (layer.mlp_norm, "ffn")):
            norm.register_forward_hook(
                lambda module, args, out, seen=seen, key=key: seen.update({key: (args[0], out)})
            )
        for path, key in (("attn.Wo", "attention"), ("mlp.Wo", "ffn")):
            where = f"layers.{index}.{path}"

            def hook(module, args, h, where=where, key=key, seen=seen, layer=layer):
                if where not in weights:
                    return None
                stream, normed = seen[key]
                r = stream if placement == "definition" else normed
                if config.is_parallel:
                    return h + _bottleneck(weights[where], r, config.scaling)
                x = h + r
                if placement == "adapterhub" and key == "attention":
                    x = layer.mlp_norm.forward(x)  # forward: not through the hook above
                return h + _bottleneck(weights[where], x, config.scaling)

            model.get_submodule(where).register_forward_hook(hook)
    return _output(model, MODERNBERT)


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_modernbert_adapterhub_placement_feeds_the_normed_input(method):
    outputs = {}
    for placement in ("definition", "adapterhub"):
        config = CONFIGS[method].replace(placement=placement)
        model = _reference(MODERNBERT, {"a": config})
        outputs[placement] = _output(model, MODERNBERT)
        expected = _hooked(_weights(model, "a"), config, placement)
        torch.testing.assert_close(outputs[placement], expected, atol=1e-5, rtol=0)
    assert (outputs["adapterhub"] - outputs["definition"]).abs().max() > 1e-2
