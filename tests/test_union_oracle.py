"""The union oracle against the reference: ConfigUnions of parts from different families (weights split by site,
captures of several parts, the union's leave_out), and UniPELT's gated bottleneck and LoRA parts."""

from __future__ import annotations

import pytest
import torch

from architectures.bert import SPEC as BERT
from architectures.gpt2 import SPEC as GPT2
from conformance import impl
from conformance.interface import implementation_gap
from conformance.methods import METHODS
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run
from conformance.oracles.run import expected_output
from conformance.weights import parse


UNIONS = {
    "reft_and_bottleneck": {
        "config": "union",
        "configs": [{"config": "loreft", "r": 2, "suffix_positions": 2}, {"config": "seq_bn", "reduction_factor": 4}],
    },
    "invertible_and_reft_left_out": {
        "config": "union",
        "configs": [{"config": "double_seq_bn_inv", "inv_adapter": "glow"}, {"config": "direft", "r": 2}],
        "leave_out": [1],
    },
}
OPEN = 40.0  # a gate bias whose sigmoid is 1.0 in float32: the gate lets everything through


def _adapter(spec, config, seed):
    model = adapter_model(spec)
    model.add_adapter("a", impl.make_config(config), set_active=True)
    randomize_adapter(model, "a", seed, std=0.3)
    return model


@pytest.mark.parametrize("arch", [BERT, GPT2], ids=lambda s: s.name)
@pytest.mark.parametrize("union", list(UNIONS))
def test_config_union_is_its_parts_applied_together(arch, union):
    spec = arch
    inputs = make_inputs(spec, 3)
    model = _adapter(spec, UNIONS[union], 3)
    expected = expected_output(plain_model(spec), spec, UNIONS[union], impl.adapter_weights(model, "a"), inputs)
    assert not torch.allclose(expected, run(plain_model(spec), inputs), atol=1e-3)
    torch.testing.assert_close(run(model, inputs), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", [BERT, GPT2], ids=lambda s: s.name)
def test_unipelt_gates_its_bottleneck_and_lora_parts(arch):
    """With the prefix's gates held open, UniPELT is an ungated prefix plus the gated bottleneck and LoRA parts."""
    spec = arch  # not "spec": the plugin parametrizes checks that take a spec
    method = METHODS["unipelt"]
    gap = implementation_gap(impl.current().gaps_on(spec), method.feature, method.name, None, spec.name)
    if gap:  # transformers 4.x's BERT: the reference declares UniPELT a gap there, as the suite's table shows
        pytest.skip(f"implementation gap of {impl.current().name}: {gap}")
    inputs = make_inputs(spec, 5)
    model = _adapter(spec, method.config, 5)
    weights = impl.adapter_weights(model, "a")
    prefix_gates = {n: v for n, v in weights.items() if parse(n).site.endswith(".prefix") and "gate" in n}
    opened = {
        n: torch.full_like(v, OPEN) if n.endswith("gate_bias") else torch.zeros_like(v)
        for n, v in prefix_gates.items()
    }
    impl.set_adapter_weights(model, "a", opened)
    weights = {n: v for n, v in impl.adapter_weights(model, "a").items() if n not in prefix_gates}
    prefix, adapter, lora = (dict(part) for part in method.parts)
    prefix.pop("use_gating")
    gated = {"config": "union", "configs": [prefix, {**adapter, "use_gating": True}, {**lora, "use_gating": True}]}
    expected = expected_output(plain_model(spec), spec, gated, weights, inputs)
    ungated_weights = {n: v for n, v in weights.items() if not parse(n).tensor.startswith("gate")}
    ungated = expected_output(
        plain_model(spec), spec, {**gated, "configs": [prefix, adapter, lora]}, ungated_weights, inputs
    )
    assert not torch.allclose(expected, ungated, atol=1e-2), "the gates changed nothing: the check could not fail"
    torch.testing.assert_close(run(model, inputs), expected, atol=1e-5, rtol=1e-4)
