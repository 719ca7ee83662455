"""What an adapter does to a forward pass: nothing when inactive or identity-initialised, something otherwise."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run


class ForwardChecks:
    def test_inactive_adapter_changes_nothing(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        expected = run(plain_model(spec), inputs)
        model = adapter_model(spec)
        assert torch.equal(run(model, inputs), expected), "init() alone must not change outputs"
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", check_seed)
        assert torch.equal(run(model, inputs), expected), "an adapter that is not active must not change outputs"

    @requires("identity_at_init")
    def test_identity_at_init(self, spec, method, check_seed):
        config = impl.make_config(method.identity_config)
        claim = impl.claimed_identity_at_init(config)
        assert claim is not False, f"{method.name}: the implementation says identity_config is no identity at init"
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", config, set_active=True)
        assert impl.active_setup(model) == impl.neutral_setup(("a",))
        assert torch.equal(run(model, inputs), run(plain_model(spec), inputs))

    def test_active_adapter_changes_output(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", check_seed)
        model.set_active_adapters("a")
        changed = run(model, inputs)
        expected = run(plain_model(spec), inputs)
        assert changed.shape == expected.shape
        assert not torch.allclose(changed, expected, atol=1e-4), (
            "an active adapter with non-trivial weights did nothing"
        )
        model.set_active_adapters(None)
        assert torch.equal(run(model, inputs), expected), "deactivating must restore the plain outputs"

    def test_setup_context_equals_set_active(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        model.add_adapter("b", impl.make_config(method.config))
        randomize_adapter(model, "a", check_seed)
        randomize_adapter(model, "b", check_seed + 1)
        with impl.adapter_setup("a"):
            in_context = run(model, inputs)
        assert model.active_adapters is None, "AdapterSetup must not change the model's active adapters"
        model.set_active_adapters("a")
        assert torch.equal(in_context, run(model, inputs))
        model.set_active_adapters("b")
        assert not torch.equal(in_context, run(model, inputs)), "two different adapters gave the same outputs"
