"""Compacter: PHM projections compute ``sum_i kron(A_i, W_i)``, and shared PHM weights live once per adapter.

Everything is read and written through the suite's canonical weights (``conformance.weights``; PHM tensors:
``<layer>.<site>.<down|up>.phm_rule`` and ``.phm_W``, a shared tensor repeated under every place that uses it) and
counted through ``impl.adapter_parameters``; the expected output is the suite's oracle.
"""

from __future__ import annotations

import pytest
import torch

from conformance import impl
from conformance.models import adapter_model, hidden_size, make_inputs, plain_model, randomize_adapter, run, tolerance
from conformance.oracles.run import expected_output


ORACLE_ATOL = 1e-5
BASE = {"config": "compacter", "reduction_factor": 4, "phm_dim": 4}


def _compacter(spec, seed: int, model=None, name: str = "a", **options):
    model = model or adapter_model(spec)
    model.add_adapter(name, impl.make_config({**BASE, **options}))
    randomize_adapter(model, name, seed)
    return model


def _tensors(model, name: str, tensor: str) -> dict[str, torch.Tensor]:
    """Every canonical ``<layer>.<site>.<role>.<tensor>`` of adapter ``name`` (``tensor``: phm_rule or phm_W)."""
    found = {k: v for k, v in impl.adapter_weights(model, name).items() if k.endswith(f".{tensor}")}
    assert found, f"adapter {name!r} has no canonical PHM tensor {tensor!r}"
    return found


def _count(model, name: str) -> int:
    return sum(p.numel() for p in impl.adapter_parameters(model, name).values())


def _places(model, name: str) -> int:
    """How many places (layer, site) adapter ``name`` adapts: each has one down-projection bias."""
    return sum(1 for k in impl.adapter_weights(model, name) if k.endswith(".down.bias"))


@pytest.mark.feature("compacter")
class CompacterChecks:
    def test_phm_weight_is_a_sum_of_kronecker_products(self, spec, check_seed):
        config = {**BASE, "shared_phm_rule": False, "factorized_phm_W": False}  # every PHM tensor stored, own rules
        model = _compacter(spec, check_seed, **{k: v for k, v in config.items() if k not in BASE})
        generator = torch.Generator().manual_seed(check_seed)
        weights = impl.adapter_weights(model, "a")
        written = {k: torch.randn(v.shape, generator=generator) * 0.3 for k, v in weights.items() if ".phm_" in k}
        impl.set_adapter_weights(model, "a", written)
        for k, value in impl.adapter_weights(model, "a").items():
            if k in written:
                torch.testing.assert_close(value, written[k], msg=f"{k} does not read back as written")
        model.set_active_adapters("a")
        inputs = make_inputs(spec, check_seed)
        expected = expected_output(plain_model(spec), spec, config, impl.adapter_weights(model, "a"), inputs)
        atol = tolerance(spec, "oracle", ORACLE_ATOL)
        torch.testing.assert_close(run(model, inputs), expected, atol=atol, rtol=1e-4)

    def test_shared_rules_live_once(self, spec, check_seed):
        model = _compacter(spec, check_seed)  # shared_phm_rule=True is the default
        _compacter(spec, check_seed, model=model, name="own", shared_phm_rule=False)
        rules = _tensors(model, "a", "phm_rule")
        first = next(iter(rules.values()))
        for k, rule in rules.items():
            torch.testing.assert_close(rule, first, msg=f"{k}: the shared rules read differently at this place")
        n3 = first.numel()
        # the unshared adapter keeps one rule per PHM projection; the shared one a single rule in all
        assert _count(model, "own") - _count(model, "a") == (len(rules) - 1) * n3, "the shared rules are duplicated"
        impl.set_adapter_weights(model, "a", {k: 2.0 * first for k in rules})
        for k, rule in _tensors(model, "a", "phm_rule").items():
            torch.testing.assert_close(rule, 2.0 * first, msg=f"{k}: writing the shared rules did not reach here")
        one, other = list(rules)[:2]
        with pytest.raises(ValueError):  # one tensor cannot take two values
            impl.set_adapter_weights(model, "a", {one: first, other: 3.0 * first})

    def test_unshared_rules_are_per_layer(self, spec, check_seed):
        model = _compacter(spec, check_seed, shared_phm_rule=False)
        rules = _tensors(model, "a", "phm_rule")
        first, *others = rules
        assert all(not torch.equal(rules[k], rules[first]) for k in others), "randomised own rules must differ"
        impl.set_adapter_weights(model, "a", {first: torch.zeros_like(rules[first])})
        after = _tensors(model, "a", "phm_rule")
        assert not after[first].any(), f"{first} was not written"
        for k in others:
            torch.testing.assert_close(after[k], rules[k], msg=f"writing {first} changed {k}: the rules are shared")

    def test_shared_blocks_make_positions_equal(self, spec, check_seed):
        model = _compacter(spec, check_seed, shared_W_phm=True)
        blocks = _tensors(model, "a", "phm_W")
        for role in ("down", "up"):
            mine = [v for k, v in blocks.items() if k.endswith(f".{role}.phm_W")]
            assert mine, f"no {role} blocks"
            for value in mine[1:]:  # shared rules and shared blocks: every place has the same blocks
                torch.testing.assert_close(value, mine[0])

    def test_fewer_parameters_than_a_linear_bottleneck(self, spec):
        model = adapter_model(spec)
        model.add_adapter("phm", impl.make_config({"config": "compacter++", "reduction_factor": 4, "phm_dim": 4}))
        model.add_adapter("linear", impl.make_config({"config": "seq_bn", "reduction_factor": 4}))
        # per layer (hidden size h, bottleneck b = h / 4, n = phm_dim = 4), a rank-1 factorised PHM pair has
        # n*(h/n + b/n) weights each way and b + h biases; the shared rules are n*n*n. A linear pair has 2*h*b weights
        # and the same biases.
        h, n = hidden_size(spec), 4
        b = h // 4
        layers = _places(model, "phm")
        assert _places(model, "linear") == layers
        assert _count(model, "phm") == layers * (2 * (h + b) + (b + h)) + n**3
        assert _count(model, "linear") == layers * (2 * h * b + b + h)

    def test_indivisible_phm_dim_is_refused(self, spec, check_seed):
        model = adapter_model(spec)
        inputs = make_inputs(spec, check_seed)
        before = run(model, inputs)
        keys = set(model.state_dict())
        h = hidden_size(spec)
        phm_dim = next(n for n in range(2, h) if h % n or (h // 4) % n)  # divides neither h nor the bottleneck h / 4
        with pytest.raises(ValueError, match="phm_dim"):
            model.add_adapter("a", impl.make_config({**BASE, "phm_dim": phm_dim}))
        with pytest.raises((KeyError, ValueError)):
            impl.adapter_config(model, "a")  # a refused adapter must leave nothing
        assert set(model.state_dict()) == keys, "a refused adapter must leave no tensors"
        assert torch.equal(run(model, inputs), before)

    def test_adapters_do_not_share_with_each_other(self, spec, check_seed):
        model = _compacter(spec, check_seed)
        _compacter(spec, check_seed + 1, model=model, name="b")
        inputs = make_inputs(spec, check_seed)
        model.set_active_adapters("b")
        expected = run(model, inputs)
        rules = _tensors(model, "a", "phm_rule")
        impl.set_adapter_weights(model, "a", {k: torch.zeros_like(v) for k, v in rules.items()})
        assert torch.equal(run(model, inputs), expected), "changing a's shared rules changed adapter b"
        model.delete_adapter("a")
        assert torch.equal(run(model, inputs), expected), "deleting a changed adapter b"
        assert _tensors(model, "b", "phm_rule"), "b lost its shared rules"
