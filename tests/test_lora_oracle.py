"""The LoRA-family oracle's own rules: AdapterHub's defaults, refusals of what it does not define, qkv layouts."""

from __future__ import annotations

import pytest
import torch

from architectures import registry
from conformance.models import plain_model
from conformance.oracles.lora import LoRAFamilyOracle, resolve
from conformance.oracles.projections import fused_features


def test_defaults_are_adapterhubs():
    lora, ia3, dora = resolve({"config": "lora"}), resolve({"config": "ia3"}), resolve({"config": "dora"})
    assert (lora.formula, lora.r, lora.scaling, lora.attn_matrices) == ("lora", 8, 1.0, ("q", "v"))
    assert not lora.intermediate and not lora.output and lora.selfattn
    assert (ia3.formula, ia3.scaling, ia3.attn_matrices, ia3.intermediate) == ("ia3", 1.0, ("k", "v"), True)
    assert dora.formula == "dora"
    assert resolve({"config": "lora", "use_dora": True}).formula == "dora"  # AdapterHub: DoRA is LoRA with use_dora
    assert resolve({"config": "lora", "r": 4, "alpha": 8}).scaling == 2.0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"config": "lora", "composition_mode": "scale"}, "composition_mode='scale' is not defined"),
        ({"config": "ia3", "composition_mode": "add"}, "composition_mode='add' is not defined"),
        ({"config": "lora", "use_gating": True}, "use_gating=True is not defined"),
        ({"config": "lora", "vera_d": 0.1}, "vera_d=0.1 is not defined"),
        ({"config": "ia3", "r": 2}, "r=2 is not defined"),
        ({"config": "lora", "attn_matrices": ["q", "x"]}, r"\['x'\] are not among"),
        ({"config": "lora", "rank": 4}, r"does not define the field\(s\) \['rank'\]"),
        ({"config": "seq_bn"}, "defines .* not 'seq_bn'"),
    ],
)
def test_what_the_oracle_does_not_define_is_refused(config, message):
    with pytest.raises(ValueError, match=message):
        resolve(config)


def test_fused_qkv_features_by_layout():
    # 2 heads of 4 features: per_head rows are [q0 k0 v0 q1 k1 v1], blocked rows [q q k k v v] (in head-sized blocks)
    assert fused_features("blocked", "k", 24, 2).tolist() == list(range(8, 16))
    assert fused_features("per_head", "q", 24, 2).tolist() == [0, 1, 2, 3, 12, 13, 14, 15]
    assert fused_features("per_head", "v", 24, 2).tolist() == [8, 9, 10, 11, 20, 21, 22, 23]
    with pytest.raises(ValueError, match="do not split into 3 heads"):
        fused_features("per_head", "q", 24, 3)


def test_fused_qkv_features_sized_by_heads():
    # multi-query (StarCoder): 4 query heads and 1 key/value head of 8 features: [q x 32; k x 8; v x 8]
    assert fused_features("blocked", "q", 48, 4, kv_heads=1).tolist() == list(range(32))
    assert fused_features("blocked", "k", 48, 4, kv_heads=1).tolist() == list(range(32, 40))
    assert fused_features("blocked", "v", 48, 4, kv_heads=1).tolist() == list(range(40, 48))
    with pytest.raises(ValueError, match="do not split into 4 query and 2 x 1 key/value heads"):
        fused_features("blocked", "k", 50, 4, kv_heads=1)


def test_tensors_at_places_the_config_does_not_adapt_are_refused():
    spec = registry.get("bert")
    model = plain_model(spec)
    config = {"config": "ia3", "leave_out": [1]}
    weights = {f"{layer}.self_attention.{m}.scale": torch.ones(32) for layer in range(3) for m in ("k", "v")}
    weights.update({f"{layer}.ffn_in.scale": torch.ones(37) for layer in range(3)})
    with pytest.raises(ValueError, match=r"has tensors \['1.ffn_in.scale', '1.self_attention.k.scale'"):
        LoRAFamilyOracle().edits(model, spec, weights, config)
    kept = {k: v for k, v in weights.items() if not k.startswith("1.")}
    edits, _ = LoRAFamilyOracle().edits(model, spec, kept, config)
    assert len(edits) == 6  # k, v and ffn_in of layers 0 and 2
