"""The reference's canonical view of bottleneck, Compacter and fusion tensors: what it reads is what it writes, and
what it cannot write (derived or shared tensors) is refused with a reason."""

from __future__ import annotations

import pytest
import torch

from architectures.bert import SPEC as BERT
from conformance import impl
from conformance.models import adapter_model, randomize_adapter


def _model(config):
    model = adapter_model(BERT)
    model.add_adapter("a", impl.make_config({"reduction_factor": 4, **config}))
    randomize_adapter(model, "a", 0)
    return model


def _shifted(weights, keys):
    return {k: weights[k] + 0.5 for k in keys}


@pytest.mark.parametrize("config", [{"config": "double_seq_bn"}, {"config": "compacter", "factorized_phm_W": False}])
def test_written_tensors_read_back(config):
    model = _model(config)
    weights = impl.adapter_weights(model, "a")
    sites = {name.split(".")[1] for name in weights}
    assert sites == {"attention_adapter", "ffn_adapter"}
    own = [k for k in weights if not k.endswith("phm_rule")]  # the shared rule is written on its own below
    impl.set_adapter_weights(model, "a", _shifted(weights, own))
    after = impl.adapter_weights(model, "a")
    for name in own:
        torch.testing.assert_close(after[name], weights[name] + 0.5, msg=name)


def test_linear_shapes_are_out_by_in():
    weights = impl.adapter_weights(_model({"config": "seq_bn"}), "a")
    assert weights["0.ffn_adapter.down.weight"].shape == (8, 32)
    assert weights["0.ffn_adapter.up.weight"].shape == (32, 8)
    assert not any("attention_adapter" in k for k in weights)


def test_derived_phm_tensor_is_not_writable():
    model = _model({"config": "compacter"})  # low-rank blocks by default: phm_W is a product
    weights = impl.adapter_weights(model, "a")
    with pytest.raises(KeyError, match="derived"):
        impl.set_adapter_weights(model, "a", {"0.ffn_adapter.down.phm_W": weights["0.ffn_adapter.down.phm_W"]})


def test_shared_rule_is_written_once_and_only_when_copies_agree():
    model = _model({"config": "compacter"})
    weights = impl.adapter_weights(model, "a")
    rules = sorted(k for k in weights if k.endswith("phm_rule"))
    assert len(rules) == 2 * 2 * 3, "the shared rule is repeated under every layer, site and role"
    new = torch.randn_like(weights[rules[0]])
    with pytest.raises(ValueError, match="shared"):
        impl.set_adapter_weights(model, "a", {rules[0]: new, rules[1]: new + 1})
    impl.set_adapter_weights(model, "a", dict.fromkeys(rules, new))
    after = impl.adapter_weights(model, "a")
    for name in rules:
        torch.testing.assert_close(after[name], new, msg=name)


def test_fusion_weights_per_layer_and_site():
    model = adapter_model(BERT)
    for name in ("a", "b"):
        model.add_adapter(name, impl.make_config({"config": "seq_bn", "reduction_factor": 4}))
    model.add_adapter_fusion(impl.composition().Fuse("a", "b"), "dynamic")
    tensors = impl.fusion_weights(model, "a,b")
    assert sorted({k.split(".", 2)[2] for k in tensors}) == [
        "fusion.key.bias",
        "fusion.key.weight",
        "fusion.query.bias",
        "fusion.query.weight",
        "fusion.value.weight",
    ]
    assert {k.split(".")[0] for k in tensors} == {"0", "1", "2"}
    with pytest.raises(ValueError, match="no fusion"):
        impl.fusion_weights(model, "b,a")
