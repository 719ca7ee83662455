"""Merging an adapter into the weights and resetting it (for methods that can merge)."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, make_inputs, randomize_adapter, run, tolerance


MERGE_ATOL = 1e-5


@requires("mergeable")
class MergeChecks:
    def test_merge_matches_unmerged(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(model, "a", check_seed)
        unmerged = run(model, inputs)
        model.merge_adapter("a")
        merged_active = run(model, inputs)
        atol = tolerance(spec, "merge", MERGE_ATOL)
        torch.testing.assert_close(merged_active, unmerged, atol=atol, rtol=0, msg="a merged adapter ran twice")

    def test_merged_adapter_stays_merged_when_deactivated(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(model, "a", check_seed)
        unmerged = run(model, inputs)
        model.merge_adapter("a")
        model.set_active_adapters(None)
        torch.testing.assert_close(run(model, inputs), unmerged, atol=tolerance(spec, "merge", MERGE_ATOL), rtol=0)

    def test_reset_restores_outputs(self, spec, method, check_seed):
        model, inputs, before, weights = _adapter_and_outputs(spec, method, check_seed)
        model.merge_adapter("a")
        assert not torch.equal(run(model, inputs), before), "merging a non-trivial adapter changed no weight"
        impl.reset_adapter(model, "a")
        atol = tolerance(spec, "merge", MERGE_ATOL)
        torch.testing.assert_close(run(model, inputs), before, atol=atol, rtol=0)
        assert model.state_dict().keys() == weights.keys()
        for k, v in model.state_dict().items():
            torch.testing.assert_close(v, weights[k], atol=atol, rtol=0, msg=k)

    def test_reset_restores_weights_bit_for_bit(self, spec, method, check_seed):
        model, inputs, before, weights = _adapter_and_outputs(spec, method, check_seed)
        model.merge_adapter("a")
        impl.reset_adapter(model, "a")
        assert torch.equal(run(model, inputs), before)
        assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def _adapter_and_outputs(spec, method, seed):
    """A model with a random adapter "a" (inactive), its inputs, its outputs and a copy of its weights."""
    inputs = make_inputs(spec, seed)
    model = adapter_model(spec)
    model.add_adapter("a", impl.make_config(method.config))
    randomize_adapter(model, "a", seed)
    return model, inputs, run(model, inputs), {k: v.clone() for k, v in model.state_dict().items()}
