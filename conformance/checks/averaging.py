"""``average_adapter``: a new adapter whose weights are the weighted sum of other adapters' weights (every method's
adapters can be averaged)."""

from __future__ import annotations

import pytest
import torch

from conformance import impl
from conformance.methods import METHODS
from conformance.models import adapter_model, make_inputs, randomize_adapter, run


SOURCES = ("one", "two", "three")
WEIGHTS = (-0.2, 0.9, 0.3)  # sum to 1, so normalising them changes nothing
AVERAGED = "mean"


def renamed(key: str, old: str, new: str) -> str:
    """``key`` of adapter ``old``'s parameter as adapter ``new``'s (the name is one dotted segment of the key)."""
    return ".".join(new if part == old else part for part in key.split("."))


def model_with_sources(spec, method, seed: int):
    model = adapter_model(spec)
    for offset, name in enumerate(SOURCES):
        model.add_adapter(name, impl.make_config(method.config))
        randomize_adapter(model, name, seed + offset)
    return model


def snapshot(model) -> tuple[dict, dict[str, torch.Tensor]]:
    configs = {name: impl.adapter_config(model, name) for name in model.adapters_config}
    return configs, {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model, before: tuple[dict, dict[str, torch.Tensor]]) -> None:
    configs, state = before
    assert {name: impl.adapter_config(model, name) for name in model.adapters_config} == configs, (
        "a refused average_adapter must not add or change adapters"
    )
    after = model.state_dict()
    assert after.keys() == state.keys() and all(torch.equal(after[k], state[k]) for k in state)


def other_method(spec, method):
    """An adapter method other than ``method`` (another config type) that works on ``spec``."""
    for other in METHODS.values():
        if other.config["config"] != method.config["config"]:
            if not spec.gap_reason(other.feature, other.name):
                return other
    pytest.fail("no second adapter method to mix with")


class WeightAveragingChecks:
    def test_average_is_weighted_sum(self, spec, method, check_seed):
        model = model_with_sources(spec, method, check_seed)
        before = {n: {k: v.detach().clone() for k, v in impl.adapter_parameters(model, n).items()} for n in SOURCES}
        model.average_adapter(AVERAGED, list(SOURCES), weights=list(WEIGHTS), combine_strategy="linear")
        assert impl.adapter_config(model, AVERAGED) == impl.make_config(method.config), (
            "averaging must keep the config"
        )
        averaged = impl.adapter_parameters(model, AVERAGED)
        assert {renamed(k, AVERAGED, SOURCES[0]) for k in averaged} == set(before[SOURCES[0]])
        for key, value in averaged.items():
            expected = sum(w * before[n][renamed(key, AVERAGED, n)] for w, n in zip(WEIGHTS, SOURCES, strict=True))
            torch.testing.assert_close(value.detach(), expected, msg=f"{key} is not the weighted sum")
        for name in SOURCES:
            now = impl.adapter_parameters(model, name)
            assert all(torch.equal(now[k], v) for k, v in before[name].items()), "averaging changed a source"

    def test_average_of_one_behaves_like_it(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = model_with_sources(spec, method, check_seed)
        model.average_adapter(AVERAGED, [SOURCES[1]], weights=[1.0], set_active=True)
        assert impl.active_setup(model) == impl.neutral_setup((AVERAGED,)), (
            "set_active=True must activate the averaged adapter"
        )
        averaged = run(model, inputs)
        model.set_active_adapters(SOURCES[1])
        assert torch.equal(averaged, run(model, inputs)), "an average of one adapter must behave like it"

    @pytest.mark.conformance_once  # argument checks of average_adapter: tier "once" (README, Tiers)
    def test_unfit_average_is_refused(self, spec, method, check_seed):
        model = model_with_sources(spec, method, check_seed)
        other = other_method(spec, method)
        model.add_adapter("other", impl.make_config(other.config))
        before = snapshot(model)
        requests = {
            "a weight per adapter": dict(adapter_list=list(SOURCES), weights=[0.5, 0.5]),
            "a known adapter": dict(adapter_list=[SOURCES[0], "missing"]),
            "a known combine_strategy": dict(adapter_list=list(SOURCES), combine_strategy="no_such_strategy"),
            f"one config ({method.name} with {other.name})": dict(adapter_list=[SOURCES[0], "other"]),
        }
        for needs, request in requests.items():
            with pytest.raises(ValueError):
                model.average_adapter(AVERAGED, **request)
                pytest.fail(f"average_adapter without {needs} must raise ValueError")
            assert_unchanged(model, before)
