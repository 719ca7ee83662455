"""ReFT: the output by the definition (every variant, prefix / suffix positions, tied or not, with padding on either
side), LoReFT's orthonormal projection, which positions and layers are edited, cached decoding steps, tied weights.

Weights are read through the suite's canonical names; the expected output is the suite's oracle
(``conformance.oracles.reft``). Positions are checked on the first layer's output: a hook registered before the
adapter sees the layer's own output, one registered after it sees the intervened output.
"""

from __future__ import annotations

import inspect

import pytest
import torch

from architectures.live import layers_of, resolve_layout
from conformance import impl
from conformance.capabilities import requires
from conformance.models import (
    adapter_model,
    main_output,
    make_inputs,
    plain_model,
    randomize_adapter,
    run,
    tolerance,
)
from conformance.oracles.run import expected_output
from conformance.weights import parse


VARIANTS = ("loreft", "noreft", "direft")
# Which positions are edited, by how many units: the configs the definition is checked on.
POSITIONS = {
    "prefix": {"prefix_positions": 2},
    "suffix": {"prefix_positions": 0, "suffix_positions": 2},
    "untied": {"prefix_positions": 2, "suffix_positions": 2},
    "tied": {"prefix_positions": 2, "suffix_positions": 2, "tied_weights": True},
    "tanh": {"prefix_positions": 3, "non_linearity": "tanh"},
}
ATOL = 1e-5
ORACLE_ATOL = 1e-5


def _config(**config):
    return {"config": "loreft", "r": 2, "dropout": 0.0, **config}


def _reft(spec, seed: int, name: str = "a", model=None, **config):
    model = model or adapter_model(spec)
    model.add_adapter(name, impl.make_config(_config(**config)))
    randomize_adapter(model, name, seed, std=0.3)
    return model


def _projections(model, name: str = "a") -> dict[str, torch.Tensor]:
    """Every canonical ``R`` of adapter ``name`` (``R``, ``prefix_R``, ``suffix_R`` per layer)."""
    found = {k: v for k, v in impl.adapter_weights(model, name).items() if parse(k).tensor.endswith("R")}
    assert found, "the adapter has no canonical R tensor"
    return found


def _first_layer(spec, model):
    return layers_of(resolve_layout(spec, model).stacks[0], model)[0]


def _main(output):
    return output[0] if isinstance(output, tuple) else output


def _layer_outputs(spec, model, inputs):
    """(raw, intervened) output of the first layer for ``inputs``."""
    layer, seen = _first_layer(spec, model), {}
    handles = [
        layer.register_forward_hook(lambda m, a, out: seen.__setitem__("raw", _main(out).detach()), prepend=True),
        layer.register_forward_hook(lambda m, a, out: seen.__setitem__("edited", _main(out).detach())),
    ]
    try:
        run(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen["raw"], seen["edited"]


def _padded(spec, seed: int):
    """Inputs with right padding in row 0 and left padding in row 1 (text models)."""
    inputs = make_inputs(spec, seed)
    if spec.has_attention_mask:
        mask = inputs["attention_mask"].clone()
        mask[0, -3:] = 0
        mask[1, :2] = 0
        inputs["attention_mask"] = mask
    return inputs


def _expected_positions(inputs, length: int, prefix: int, suffix: int):
    """Boolean (batch, length) masks of the first ``prefix`` and last ``suffix`` non-padding positions."""
    mask = inputs.get("attention_mask")
    batch = next(iter(inputs.values())).shape[0]
    mask = torch.ones(batch, length, dtype=torch.long) if mask is None or mask.shape[1] != length else mask
    real = [torch.nonzero(row).flatten().tolist() for row in mask]
    prefixes, suffixes = torch.zeros(batch, length, dtype=torch.bool), torch.zeros(batch, length, dtype=torch.bool)
    for row, positions in enumerate(real):
        first, last = positions[0], positions[-1]
        prefixes[row, first : first + prefix] = True
        suffixes[row, max(first, last + 1 - suffix) : last + 1] = True
    return prefixes, suffixes


@pytest.mark.feature("reft")
class ReftChecks:
    @pytest.mark.parametrize("positions", list(POSITIONS))
    @pytest.mark.parametrize("variant", VARIANTS)
    def test_output_matches_the_definition(self, spec, check_seed, variant, positions):
        config = _config(config=variant, **POSITIONS[positions])
        inputs = _padded(spec, check_seed)
        model = _reft(spec, check_seed, **config)
        model.set_active_adapters("a")
        expected = expected_output(plain_model(spec), spec, config, impl.adapter_weights(model, "a"), inputs)
        atol = tolerance(spec, "oracle", ORACLE_ATOL)
        torch.testing.assert_close(run(model, inputs), expected, atol=atol, rtol=1e-4)

    def test_loreft_projection_is_orthonormal(self, spec, check_seed):
        model = _reft(spec, check_seed, r=4)  # randomised weights: R must still have orthonormal rows
        _reft(spec, check_seed + 1, name="b", model=model, r=4)
        model.average_adapter("mean", ["a", "b"], weights=[0.5, 0.5])
        for name in ("a", "mean"):
            for key, rotation in _projections(model, name).items():
                identity = torch.eye(rotation.shape[0])
                torch.testing.assert_close(rotation @ rotation.T, identity, atol=ATOL, rtol=0, msg=f"{name}: {key}")
        free = _reft(spec, check_seed, config="noreft", r=4)
        rotation = next(iter(_projections(free).values()))
        assert not torch.allclose(rotation @ rotation.T, torch.eye(4), atol=1e-2), "NoReFT must not be constrained"

    @pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
    def test_edits_exactly_the_prefix_and_suffix_positions(self, spec, check_seed, tied):
        inputs = _padded(spec, check_seed)
        model = _reft(spec, check_seed, config="noreft", prefix_positions=2, suffix_positions=2, tied_weights=tied)
        model.set_active_adapters("a")
        raw, edited = _layer_outputs(spec, model, inputs)
        prefix, suffix = _expected_positions(inputs, raw.shape[1], 2, 2)
        changed = (edited - raw).abs().amax(-1) > 1e-6
        assert torch.equal(changed, prefix | suffix), f"edited positions {changed.int().tolist()}"
        tensors = {parse(k).tensor for k in impl.adapter_weights(model, "a")}
        expected = {"R", "W", "b"} if tied else {f"{p}_{t}" for p in ("prefix", "suffix") for t in "RWb"}
        assert tensors == expected, "tied: one R, W, b per layer; untied: prefix_ and suffix_ ones"

    def test_layers_choose_where_to_intervene(self, spec, check_seed):
        def layers(name):
            return sorted({parse(k).layer for k in impl.adapter_weights(model, name)})

        model = _reft(spec, check_seed, layers=[1])
        assert layers("a") == [1]
        _reft(spec, check_seed, name="b", model=model, layers=[0, 1], leave_out=[0])
        assert layers("b") == [1], "leave_out removes layers from layers"
        with pytest.raises(ValueError, match="layers"):
            model.add_adapter("c", impl.make_config({"config": "loreft", "layers": [99]}))
        assert "c" not in model.adapters_config

    @requires("has_lm_head")
    def test_cached_step_edits_absolute_prefix_positions(self, spec, check_seed):
        """With 3 prefix positions, a cached step decoding position 2 is edited and one decoding position 3 is not:
        both equal the uncached run."""
        model = _reft(spec, check_seed, prefix_positions=3)
        model.set_active_adapters("a")
        inputs = make_inputs(spec, check_seed)
        for position in (2, 3):
            full, cached = _full_and_cached_step(model, spec, inputs, position)
            torch.testing.assert_close(cached, full[:, position], atol=ATOL, rtol=ATOL, msg=f"position {position}")

    @requires("has_lm_head")
    def test_cached_step_leaves_suffix_positions_alone(self, spec, check_seed):
        """Suffix positions are the last ones of the input seen before the cache; decoding steps add none."""
        model = _reft(spec, check_seed, prefix_positions=0, suffix_positions=2)
        inputs = make_inputs(spec, check_seed)
        model.set_active_adapters("a")
        _, with_adapter = _full_and_cached_step(model, spec, inputs)
        _, step_without = _full_and_cached_step(model, spec, inputs, step_setup=None)
        torch.testing.assert_close(with_adapter, step_without, atol=ATOL, rtol=ATOL)

    def test_two_units_save_and_load(self, spec, check_seed, tmp_path):
        config = {"prefix_positions": 2, "suffix_positions": 2, "config": "direft"}
        source = _reft(spec, check_seed, **config)
        source.save_adapter(str(tmp_path), "a", **impl.serialization_options())
        target = adapter_model(spec)
        loaded = impl.load_adapter(target, str(tmp_path), set_active=True)
        assert loaded.missing_keys == [] and loaded.unexpected_keys == []
        source.set_active_adapters("a")
        inputs = _padded(spec, check_seed)
        assert torch.equal(run(target, inputs), run(source, inputs))


def _full_and_cached_step(model, spec, inputs, position: int = 2, step_setup="a"):
    """The outputs of an uncached run up to ``position``, and the output of a cached step decoding ``position``."""
    key = "decoder_input_ids" if spec.is_encoder_decoder else "input_ids"
    tokens = inputs[key][:, : position + 1]
    source = {spec.modality.main_input: inputs[spec.modality.main_input]} if spec.is_encoder_decoder else {}
    with torch.no_grad():
        full = main_output(model(**source, **{key: tokens}))  # logits where the base is an LM
        first = model(**source, **{key: tokens[:, :position]}, use_cache=True)
        cache = getattr(first, "past_key_values", None) or first.cache
        previous = model.active_adapters
        model.set_active_adapters(step_setup)
        try:
            step = model(**source, **{key: tokens[:, position:], _cache_argument(model): cache}, use_cache=True)
        finally:
            model.set_active_adapters(previous)
    return full, main_output(step)[:, -1]


def _cache_argument(model) -> str:
    """transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name is a deprecated alias)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
