"""An adapter does what its method's definition says: the implementation's output against the suite's oracle."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run, tolerance
from conformance.oracles.run import expected_output


ORACLE_ATOL = 1e-5


class DefinitionChecks:
    def test_output_matches_oracle(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(model, "a", check_seed)
        actual = run(model, inputs)
        expected = expected_output(plain_model(spec), spec, method.config, impl.adapter_weights(model, "a"), inputs)
        assert not torch.allclose(expected, run(plain_model(spec), inputs), atol=1e-4), (
            "the oracle says this adapter changes nothing: its weights or the oracle are trivial"
        )
        torch.testing.assert_close(actual, expected, atol=tolerance(spec, "oracle", ORACLE_ATOL), rtol=1e-4)
