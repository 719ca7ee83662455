"""Config unions (MAM, UniPELT): one adapter name, the adapters of several configs, and UniPELT's gates."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, make_inputs, model_layers, plain_model, randomize_adapter, run
from conformance.oracles.run import expected_output


def renamed(key: str, old: str, new: str) -> str:
    return ".".join(new if part == old else part for part in key.split("."))


def layer_count(model) -> int:
    return len(model_layers(model))


@requires("union")
class UnionChecks:
    @requires("!gated")
    def test_union_is_its_parts_stacked(self, spec, method, check_seed):
        """The union adds exactly the parts' weights, and runs like a Stack of the parts with those weights."""
        blocks = impl.composition()
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("u", impl.make_config(method.config))
        names = [f"part{i}" for i in range(len(method.parts))]
        for offset, (name, part) in enumerate(zip(names, method.parts, strict=True)):
            model.add_adapter(name, impl.make_config(part))
            randomize_adapter(model, name, check_seed + offset)
        union = impl.adapter_parameters(model, "u")
        owners = {renamed(k, name, "u"): (name, k) for name in names for k in impl.adapter_parameters(model, name)}
        assert set(union) == set(owners), "the union's weights are not its parts' weights"
        with torch.no_grad():
            for key, param in union.items():
                name, source = owners[key]
                param.copy_(impl.adapter_parameters(model, name)[source])
        stacked = run_with(model, blocks.Stack(*names), inputs)
        assert not torch.allclose(stacked, run(plain_model(spec), inputs), atol=1e-4), "the parts did nothing"
        torch.testing.assert_close(run_with(model, "u", inputs), stacked, atol=1e-6, rtol=0)

    @requires("gated")
    def test_gating_scores_are_reported(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(model, "a", check_seed)
        with torch.no_grad():
            plain_output = model(**inputs)
            output = model(**inputs, output_adapter_gating_scores=True)
        assert "adapter_gating_scores" not in plain_output, "gating scores are reported only on request"
        scores = output["adapter_gating_scores"]["a"]
        assert sorted(scores) == list(range(layer_count(model))), "one entry per layer"
        batch = next(iter(inputs.values())).shape[0]
        for layer, gates in scores.items():
            assert len(gates) >= len(method.parts), f"layer {layer} reports the gates {sorted(gates)}"
            for location, gate in gates.items():
                assert gate.shape[0] == batch and ((gate > 0) & (gate < 1)).all(), f"{location}: not a gate"

    @requires("gated")
    def test_closed_gates_switch_the_gated_parts_off(self, spec, method, check_seed):
        """A closed gate (g = sigmoid(-40)) switches its bottleneck or LoRA part off; a prefix's gate scales its keys
        and values (g K_p, g V_p), so a closed one leaves a prefix of zeros, which still takes attention."""
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(model, "a", check_seed)
        plain = plain_model(spec)
        opened = run(model, inputs)
        assert not torch.allclose(opened, run(plain, inputs), atol=1e-4), "the adapter did nothing"
        weights = impl.adapter_weights(model, "a")
        gates = [k for k in weights if k.endswith((".gate_weight", ".gate_bias"))]
        assert gates, "found no gate weights"
        closed = {**weights, **{k: weights[k].new_full(weights[k].shape, -40.0 * k.endswith("bias")) for k in gates}}
        impl.set_adapter_weights(model, "a", {k: closed[k] for k in gates})
        zero_prefix = {
            k: v.new_zeros(v.shape) if k.endswith((".prefix.key", ".prefix.value")) else v for k, v in closed.items()
        }
        expected = expected_output(plain, spec, method.config, zero_prefix, inputs)
        torch.testing.assert_close(run(model, inputs), expected, atol=1e-5, rtol=0)
        assert not torch.allclose(expected, opened, atol=1e-4), "closing the gates changed nothing"


def run_with(model, setup, inputs):
    with impl.adapter_setup(setup):
        return run(model, inputs)
