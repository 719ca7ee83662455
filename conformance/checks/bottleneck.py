"""Bottleneck adapters in every placement the configs expose (AdapterHub's options) against the suite's oracle."""

from __future__ import annotations

import pytest
import torch

from conformance import impl
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run, tolerance
from conformance.oracles.run import expected_output


ORACLE_ATOL = 1e-5

# Config dicts beside the methods' defaults (those the definition check covers), each a placement option that
# changes where the adapter reads or what it adds to.
VARIANTS = {
    "seq_bn-residual_before_ln=False": {"config": "seq_bn", "residual_before_ln": False},
    "seq_bn-residual_before_ln=post_add": {"config": "seq_bn", "residual_before_ln": "post_add"},
    "seq_bn-leave_out=1": {"config": "seq_bn", "leave_out": [1]},
    "double_seq_bn-original_ln_before": {"config": "double_seq_bn", "original_ln_before": True},
    "double_seq_bn-scaling=2.5": {"config": "double_seq_bn", "scaling": 2.5, "non_linearity": "tanh"},
    "par_bn-scaling=1": {"config": "par_bn", "scaling": 1.0, "mh_adapter": False},
    "seq_bn-ln_before-ln_after": {"config": "seq_bn", "ln_before": True, "ln_after": True},
    "double_seq_bn-adapter_residual_before_ln": {
        "config": "double_seq_bn",
        "ln_after": True,
        "adapter_residual_before_ln": True,
    },
    "par_bn-ln_after": {"config": "par_bn", "ln_after": True},
    "compacter++-shared_W_phm": {"config": "compacter++", "shared_W_phm": True, "factorized_phm_rule": True},
    "compacter-own_rules": {"config": "compacter", "shared_phm_rule": False, "factorized_phm_W": False},
}


@pytest.mark.feature("bottleneck")
class BottleneckPlacementChecks:
    @pytest.mark.parametrize("variant", sorted(VARIANTS))
    def test_placement_option_matches_oracle(self, spec, variant, check_seed):
        config = {**VARIANTS[variant], "reduction_factor": 4}
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(config), set_active=True)
        randomize_adapter(model, "a", check_seed)
        expected = expected_output(plain_model(spec), spec, config, impl.adapter_weights(model, "a"), inputs)
        torch.testing.assert_close(
            run(model, inputs), expected, atol=tolerance(spec, "oracle", ORACLE_ATOL), rtol=1e-4
        )
