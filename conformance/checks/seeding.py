"""``init_weights_seed``: the same seed gives the same initial weights, in one model and in twin models."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model


SEED = 42


def initial_weights(model, name: str) -> dict[str, torch.Tensor]:
    """The adapter's parameters, keyed with its name replaced by ``{name}`` so adapters can be compared."""
    return {
        ".".join("{name}" if part == name else part for part in key.split(".")): param.detach().clone()
        for key, param in impl.adapter_parameters(model, name).items()
    }


def add_seeded(model, name: str, method, seed: int, global_seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(global_seed)  # a different global RNG each time: only init_weights_seed may decide
    model.add_adapter(name, impl.make_config({**method.config, "init_weights_seed": seed}))
    return initial_weights(model, name)


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class SeedChecks:
    def test_same_seed_same_initial_weights(self, spec, method):
        model = adapter_model(spec)
        first = add_seeded(model, "first", method, SEED, global_seed=1)
        assert first, "the adapter has no parameters"
        assert same(first, add_seeded(model, "second", method, SEED, global_seed=2)), "two adapters in one model"
        twin = adapter_model(spec)
        assert same(first, add_seeded(twin, "first", method, SEED, global_seed=3)), "the same adapter in twin models"

    @requires("random_init")
    def test_other_seed_other_initial_weights(self, spec, method):
        model = adapter_model(spec)
        first = add_seeded(model, "first", method, SEED, global_seed=1)
        assert not same(first, add_seeded(model, "second", method, SEED + 1, global_seed=1)), (
            "a different init_weights_seed gave the same initial weights"
        )
