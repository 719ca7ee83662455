"""Adding, inspecting and deleting adapters."""

from __future__ import annotations

import pytest
import torch

from architectures.live import resolve_layout
from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run


class LifecycleChecks:
    def test_add_creates_trainable_parameters(self, spec, method):
        model = adapter_model(spec)
        config = impl.make_config(method.config)
        model.add_adapter("a", config)
        params = impl.adapter_parameters(model, "a")
        assert params, f"adding a {method.name} adapter created no parameters"
        assert all(p.requires_grad for p in params.values())
        assert impl.adapter_config(model, "a") == config
        base_names = set(dict(plain_model(spec).named_parameters()))
        assert not set(params) & base_names, "adapter parameters must be new, not base-model weights"

    def test_add_twice_needs_overwrite(self, spec, method):
        name = "sentiment_adapter"  # distinctive: a message that names it says which adapter was meant
        model = adapter_model(spec)
        model.add_adapter(name, impl.make_config(method.config))
        before = dict(impl.adapter_parameters(model, name))
        with pytest.raises(ValueError) as refused:
            model.add_adapter(name, impl.make_config(method.config))
        assert name in str(refused.value), f"the error must name the adapter: {refused.value!r}"
        assert impl.adapter_parameters(model, name).keys() == before.keys()
        model.add_adapter(name, impl.make_config(method.config), overwrite_ok=True)
        assert impl.adapter_parameters(model, name).keys() == before.keys()

    def test_add_twice_error_says_overwrite_ok(self, spec, method):
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        with pytest.raises(ValueError) as refused:
            model.add_adapter("a", impl.make_config(method.config))
        assert "overwrite_ok" in str(refused.value), f"the error must say to pass overwrite_ok=True: {refused.value!r}"

    def test_delete_leaves_nothing(self, spec, method, check_seed):
        model = adapter_model(spec)
        inputs = make_inputs(spec, check_seed)
        reference = dict(model.state_dict())  # as before the add (what init itself adds: test_init_adds_no_tensors)
        hooks_before = _hook_counts(model)
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", check_seed)
        model.set_active_adapters("a")
        assert not torch.equal(run(model, inputs), run(plain_model(spec), inputs)), "the adapter changed nothing"
        model.delete_adapter("a")
        assert torch.equal(run(model, inputs), run(plain_model(spec), inputs)), "outputs after delete must be plain"
        assert "a" not in model.adapters_config
        assert model.active_adapters is None
        assert dict(model.state_dict()).keys() == reference.keys()
        assert _hook_counts(model) == hooks_before, "deleting must remove the adapter's hooks too"

    def test_init_adds_no_tensors(self, spec, method):
        """Initialising a model for adapters adds no weights: its state dict stays the plain model's."""
        assert dict(adapter_model(spec).state_dict()).keys() == dict(plain_model(spec).state_dict()).keys()

    @requires("per_layer")
    def test_get_adapter_covers_every_layer(self, spec, method):
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        found = model.get_adapter("a")
        layers = sum(len(_layers(model, stack)) for stack in resolve_layout(spec, model).stacks)
        # -1 holds model-level modules (shared PHM weights, an invertible adapter), as in AdapterHub
        assert sorted(i for i in found if i != -1) == list(range(layers))
        assert all(modules for modules in found.values())

    @requires("per_layer")
    def test_leave_out_skips_layers(self, spec, method):
        model = adapter_model(spec)
        left_out = (0,)
        model.add_adapter("a", impl.make_config({**method.config, "leave_out": list(left_out)}))
        found = model.get_adapter("a")
        assert found, "leaving out one layer must keep the adapter in the others"
        assert not set(found) & set(left_out)


def _hook_counts(model):
    return {
        name: (len(module._forward_hooks), len(module._forward_pre_hooks))
        for name, module in model.named_modules()
        if module._forward_hooks or module._forward_pre_hooks
    }


def _layers(model, stack):
    from architectures.live import layers_of

    return layers_of(stack, model)
