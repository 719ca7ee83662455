"""Prefix tuning and union configs without a model: validation, defaults, the JSON round trip, clear errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reference_impl import (
    ConfigUnion,
    DoubleSeqBnConfig,
    IA3Config,
    LoRAConfig,
    MAMConfig,
    ParBnConfig,
    PrefixTuningConfig,
    SeqBnConfig,
    UniPELTConfig,
    resolve_config,
)


def roundtrip(config):
    return resolve_config(json.loads(config.to_json()))


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"prefix_length": 0}, "prefix_length"),
        ({"bottleneck_size": -1}, "bottleneck_size"),
        ({"non_linearity": "sigmoid"}, "non_linearity"),
        ({"dropout": 1.0}, "dropout"),
        ({"leave_out": [-1]}, "leave_out"),
    ],
)
def test_prefix_config_rejects_bad_values(changes, words):
    with pytest.raises(ValueError, match=words):
        PrefixTuningConfig(**changes)


def test_prefix_config_is_frozen_and_round_trips():
    config = PrefixTuningConfig(prefix_length=7, flat=True, leave_out=[1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.prefix_length = 3
    assert roundtrip(config) == config
    assert resolve_config("prefix_tuning") == PrefixTuningConfig()
    assert not config.identity_at_init


def test_union_round_trips_and_spreads_leave_out_and_seed():
    union = ConfigUnion(PrefixTuningConfig(), ParBnConfig(leave_out=[2]), leave_out=[0], init_weights_seed=5)
    assert union.name == "union" and roundtrip(union) == union
    prefix, adapter = union.parts
    assert prefix.leave_out == (0,) and adapter.leave_out == (0, 2)
    assert prefix.init_weights_seed == adapter.init_weights_seed == 5
    assert dataclasses.replace(union, leave_out=(1,)).parts[0].leave_out == (1,)
    assert ConfigUnion(configs=[{"config": "seq_bn"}, "lora"]).configs == (SeqBnConfig(), LoRAConfig())


@pytest.mark.parametrize(
    "parts",
    [
        (SeqBnConfig(), ParBnConfig()),  # two adapters at the FFN output
        (SeqBnConfig(), DoubleSeqBnConfig()),
        (PrefixTuningConfig(), PrefixTuningConfig(prefix_length=3)),
        (LoRAConfig(), IA3Config(attn_matrices=("v",))),  # both on the value projection
    ],
)
def test_union_refuses_two_adapters_in_one_place(parts):
    with pytest.raises(ValueError, match="at most one adapter per place"):
        ConfigUnion(*parts)


def test_union_refuses_nested_unions_and_emptiness():
    with pytest.raises(TypeError, match="cannot hold another union"):
        ConfigUnion(MAMConfig(), SeqBnConfig())
    with pytest.raises(ValueError, match="at least one"):
        ConfigUnion()
    with pytest.raises(TypeError, match="no field"):
        ConfigUnion(SeqBnConfig(), reduction_factor=2)


def test_places_that_differ_are_fine():
    ConfigUnion(DoubleSeqBnConfig(output_adapter=False), SeqBnConfig(), LoRAConfig(), PrefixTuningConfig())
    ConfigUnion(LoRAConfig(attn_matrices=("q",)), IA3Config(attn_matrices=("v",)))


def test_mam_and_unipelt_defaults():
    mam = MAMConfig()
    assert mam.name == "mam" and mam.prefix_tuning.bottleneck_size == 800 and isinstance(mam.adapter, ParBnConfig)
    unipelt = UniPELTConfig()
    assert unipelt.gated and unipelt.prefix_tuning.use_gating  # the prefix part is always gated in UniPELT
    assert (unipelt.prefix_tuning.prefix_length, unipelt.adapter.reduction_factor, unipelt.lora.r) == (10, 16, 8)
    assert UniPELTConfig(prefix_tuning=PrefixTuningConfig()).prefix_tuning.use_gating
    for config in (mam, unipelt, MAMConfig(adapter={"config": "seq_bn"}, leave_out=[1])):
        assert roundtrip(config) == config


def test_union_parts_keep_their_types():
    with pytest.raises(TypeError, match="prefix_tuning must be a PrefixTuningConfig"):
        MAMConfig(prefix_tuning=SeqBnConfig())
    with pytest.raises(TypeError, match="lora must be a LoRAConfig"):
        UniPELTConfig(lora={"config": "seq_bn"})
