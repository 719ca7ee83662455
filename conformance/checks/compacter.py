"""Compacter: PHM projections compute ``sum_i kron(A_i, W_i)``, and shared PHM weights live once per adapter."""

from __future__ import annotations

import pytest
import torch

from conformance import impl
from conformance.models import adapter_model, hidden_size, make_inputs, randomize_adapter, run


def _compacter(spec, seed: int, **options):
    model = adapter_model(spec)
    model.add_adapter("a", impl.make_config({"config": "compacter", "reduction_factor": 4, "phm_dim": 4, **options}))
    randomize_adapter(model, "a", seed)
    return model


def _projections(model, name: str = "a"):
    """Every (key, down or up projection) of adapter ``name``, read off get_adapter."""
    found = []
    for layer, modules in sorted(model.get_adapter(name).items()):
        for location, module in modules.items():
            if layer >= 0:
                found += [(f"{layer}.{location}.down", module.down), (f"{layer}.{location}.up", module.up)]
    return found


def _factor(params: dict, suffix: str) -> torch.Tensor:
    matches = [value for key, value in params.items() if key.endswith(suffix)]
    assert len(matches) == 1, f"expected one parameter ending in {suffix}, found {len(matches)}"
    return matches[0]


@pytest.mark.feature("compacter")
class CompacterChecks:
    def test_phm_weight_is_a_sum_of_kronecker_products(self, spec, check_seed):
        model = _compacter(spec, check_seed, shared_phm_rule=False)
        generator = torch.Generator().manual_seed(check_seed)
        for key, projection in _projections(model)[:2]:
            params = dict(projection.named_parameters())
            rule = _factor(params, "phm_rule")
            blocks = torch.bmm(_factor(params, "_left"), _factor(params, "_right"))
            expected = sum(torch.kron(rule[i], blocks[i]) for i in range(rule.shape[0]))
            assert expected.shape == (projection.in_features, projection.out_features), key
            inputs = torch.randn(3, projection.in_features, generator=generator)
            with torch.no_grad():
                torch.testing.assert_close(projection(inputs), inputs @ expected + params["bias"], msg=key)

    def test_shared_rules_live_once(self, spec, check_seed):
        model = _compacter(spec, check_seed)  # shared_phm_rule=True is the default
        params = impl.adapter_parameters(model, "a")
        rules = [key for key in params if "phm_rule" in key]
        assert len(rules) == 1, f"the shared rules must be one parameter of the adapter, found {rules}"
        assert [key for key in model.state_dict() if "phm_rule" in key] == rules, "the rules must not be duplicated"
        shared = model.get_adapter("a")[-1]
        assert len(shared) == 1, "the shared PHM weights are the adapter's one model-level module"
        before = {key: p.weight().detach().clone() for key, p in _projections(model)}
        with torch.no_grad():
            params[rules[0]].mul_(2.0)
        for key, projection in _projections(model):  # every layer's weight scales with the one shared rule
            torch.testing.assert_close(projection.weight(), 2.0 * before[key], msg=key)

    def test_unshared_rules_are_per_layer(self, spec, check_seed):
        model = _compacter(spec, check_seed, shared_phm_rule=False)
        rules = [key for key in impl.adapter_parameters(model, "a") if "phm_rule" in key]
        assert len(rules) == len(_projections(model)), "each PHM layer needs its own rules when they are not shared"
        assert -1 not in model.get_adapter("a"), "nothing is shared, so there is no model-level module"

    def test_shared_blocks_make_positions_equal(self, spec, check_seed):
        model = _compacter(spec, check_seed, shared_W_phm=True)
        params = impl.adapter_parameters(model, "a")
        assert not [key for key in params if ".W_" in key and "adapter_site.compacter.a.weights" not in key], (
            "with shared_W_phm no PHM layer may keep blocks of its own"
        )
        downs = [p.weight() for key, p in _projections(model) if key.endswith("down")]
        for weight in downs[1:]:  # shared rules and shared blocks: every down-projection has the same weight
            torch.testing.assert_close(weight, downs[0])

    def test_fewer_parameters_than_a_linear_bottleneck(self, spec):
        model = adapter_model(spec)
        model.add_adapter("phm", impl.make_config({"config": "compacter++", "reduction_factor": 4, "phm_dim": 4}))
        model.add_adapter("linear", impl.make_config({"config": "seq_bn", "reduction_factor": 4}))

        def count(name):
            return sum(p.numel() for p in impl.adapter_parameters(model, name).values())

        # per layer (hidden size h, bottleneck b = h / 4, n = phm_dim = 4), a rank-1 factorised PHM pair has
        # n*(h/n + b/n) weights each way and b + h biases; the shared rules are n*n*n. A linear pair has 2*h*b weights
        # and the same biases.
        h, n = hidden_size(spec), 4
        b = h // 4
        layers = len(model.get_adapter("phm")) - 1
        assert count("phm") == layers * (2 * (h + b) + (b + h)) + n**3
        assert count("linear") == layers * (2 * h * b + b + h)

    def test_indivisible_phm_dim_is_refused(self, spec, check_seed):
        model = adapter_model(spec)
        inputs = make_inputs(spec, check_seed)
        before = run(model, inputs)
        keys = set(model.state_dict())
        h = hidden_size(spec)
        phm_dim = next(n for n in range(2, h) if h % n or (h // 4) % n)  # divides neither h nor the bottleneck h / 4
        with pytest.raises(ValueError, match="phm_dim"):
            model.add_adapter(
                "a", impl.make_config({"config": "compacter", "reduction_factor": 4, "phm_dim": phm_dim})
            )
        assert not model.adapters_config and set(model.state_dict()) == keys, "a refused adapter must leave nothing"
        assert torch.equal(run(model, inputs), before)

    def test_adapters_do_not_share_with_each_other(self, spec, check_seed):
        model = _compacter(spec, check_seed)
        model.add_adapter("b", impl.make_config({"config": "compacter", "reduction_factor": 4, "phm_dim": 4}))
        randomize_adapter(model, "b", check_seed + 1)
        inputs = make_inputs(spec, check_seed)
        model.set_active_adapters("b")
        expected = run(model, inputs)
        with torch.no_grad():
            for key, param in impl.adapter_parameters(model, "a").items():
                if "phm_rule" in key:
                    param.zero_()
        assert torch.equal(run(model, inputs), expected), "changing a's shared rules changed adapter b"
        model.delete_adapter("a")
        assert torch.equal(run(model, inputs), expected), "deleting a changed adapter b"
        assert [key for key in impl.adapter_parameters(model, "b") if "phm_rule" in key], "b lost its shared rules"
