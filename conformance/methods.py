"""The adapter methods under test: the configs the checks use for each, as data. What each method is expected to do
(blocks, merging, identity at init, ...) is in ``conformance.expectations``; gaps live in the specs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from architectures.features import METHOD_FEATURE


@dataclass(frozen=True)
class MethodUnderTest:
    """``config`` is what the checks add; ``identity_config`` a variant whose adapter starts as the identity."""

    name: str
    config: dict[str, Any]
    identity_config: dict[str, Any]
    resized: dict[str, Any] | None  # config changes that change the shapes of the adapter's weights, if any
    adapts_projections: bool = False  # a LoRA-family method: it changes linear projections (the placement probes)
    prefix: bool = False  # the config adds prefix tuning: the prefix checks (padding, leave-out by layer) apply
    parts: tuple[dict[str, Any], ...] = ()  # a union's parts, each a config of its own: the union checks apply
    gated: bool = False  # UniPELT: every part has a gate, reported with output_adapter_gating_scores=True

    @property
    def union(self) -> bool:
        return bool(self.parts)

    @property
    def feature(self) -> str:
        return METHOD_FEATURE[self.name]


def _reft(name: str, **positions: Any) -> MethodUnderTest:
    config = {"config": name, "r": 2, **positions, "dropout": 0.0}
    return MethodUnderTest(name, config, {**config, "init_weights": "identity"}, resized={"r": 3})


METHODS: dict[str, MethodUnderTest] = {
    m.name: m
    for m in (
        MethodUnderTest(
            "seq_bn",
            config={"config": "seq_bn", "reduction_factor": 4},
            identity_config={"config": "seq_bn", "reduction_factor": 4, "init_weights": "mam"},
            resized={"reduction_factor": 2},
        ),
        MethodUnderTest(
            "double_seq_bn",
            config={"config": "double_seq_bn", "reduction_factor": 4},
            identity_config={"config": "double_seq_bn", "reduction_factor": 4, "init_weights": "mam"},
            resized={"reduction_factor": 2},
        ),
        MethodUnderTest(
            "par_bn",
            config={"config": "par_bn", "reduction_factor": 4},
            identity_config={"config": "par_bn", "reduction_factor": 4, "init_weights": "mam"},
            resized={"reduction_factor": 2},
        ),
        MethodUnderTest(
            "lora",
            config={"config": "lora", "r": 4, "alpha": 8, "attn_matrices": ["q", "k", "v", "o"], "output_lora": True},
            identity_config={"config": "lora", "r": 4, "init_weights": "lora"},
            resized={"r": 2},
            adapts_projections=True,
        ),
        MethodUnderTest(
            "ia3",
            config={"config": "ia3", "attn_matrices": ["q", "k", "v", "o"], "output_lora": True},
            identity_config={"config": "ia3"},
            resized=None,  # a scaling vector's size is the projection's: no config change resizes it
            adapts_projections=True,
        ),
        MethodUnderTest(
            "dora",
            config={"config": "dora", "r": 4, "alpha": 8, "attn_matrices": ["q", "k", "v", "o"], "output_lora": True},
            identity_config={"config": "dora", "r": 4, "init_weights": "lora"},
            resized={"r": 2},
            adapts_projections=True,
        ),
        # Prefix tuning and the unions that hold it: a prefix changes outputs from the start (no identity config);
        # the prefixes of all layers come from one pool per attention kind, a model-level module (not per layer).
        MethodUnderTest(
            "prefix_tuning",
            config={"config": "prefix_tuning", "prefix_length": 5, "bottleneck_size": 16},
            identity_config={},
            resized={"prefix_length": 3},
            prefix=True,
        ),
        MethodUnderTest(
            "mam",
            config={
                "config": "mam",
                "prefix_tuning": {"config": "prefix_tuning", "prefix_length": 5, "bottleneck_size": 16},
                "adapter": {"config": "par_bn", "reduction_factor": 4},
            },
            identity_config={},
            resized={"adapter": {"config": "par_bn", "reduction_factor": 2}},
            prefix=True,
            parts=(
                {"config": "prefix_tuning", "prefix_length": 5, "bottleneck_size": 16},
                {"config": "par_bn", "reduction_factor": 4},
            ),
        ),
        MethodUnderTest(
            "unipelt",
            config={
                "config": "unipelt",
                "prefix_tuning": {"config": "prefix_tuning", "prefix_length": 5, "bottleneck_size": 16},
                "adapter": {"config": "seq_bn", "reduction_factor": 4},
                "lora": {"config": "lora", "r": 4, "init_weights": "bert"},
            },
            identity_config={},
            resized={"lora": {"config": "lora", "r": 2, "init_weights": "bert"}},
            prefix=True,
            parts=(
                {"config": "prefix_tuning", "prefix_length": 5, "bottleneck_size": 16, "use_gating": True},
                {"config": "seq_bn", "reduction_factor": 4},
                {"config": "lora", "r": 4, "init_weights": "bert"},
            ),
            gated=True,
        ),
        MethodUnderTest(
            "compacter",  # shares its PHM rules across layers (the default)
            config={"config": "compacter", "reduction_factor": 4, "phm_dim": 4},
            identity_config={"config": "compacter", "reduction_factor": 4, "phm_dim": 4, "init_weights": "mam"},
            resized={"reduction_factor": 2},
        ),
        MethodUnderTest(
            "compacter++",  # shares its PHM blocks too
            config={"config": "compacter++", "reduction_factor": 8, "phm_dim": 2, "shared_W_phm": True},
            identity_config={"config": "compacter++", "reduction_factor": 8, "phm_dim": 2, "init_weights": "mam"},
            resized={"reduction_factor": 4},
        ),
        MethodUnderTest(
            "seq_bn_inv",
            config={"config": "seq_bn_inv", "reduction_factor": 4},
            identity_config={"config": "seq_bn_inv", "reduction_factor": 4, "init_weights": "mam"},
            resized={"reduction_factor": 2},
        ),
        MethodUnderTest(
            "double_seq_bn_inv",  # with a Glow (affine) coupling block
            config={"config": "double_seq_bn_inv", "reduction_factor": 4, "inv_adapter": "glow"},
            identity_config={
                "config": "double_seq_bn_inv",
                "reduction_factor": 4,
                "inv_adapter": "glow",
                "init_weights": "mam",
            },  # fmt: skip
            resized={"inv_adapter_reduction_factor": 4},
        ),
        MethodUnderTest(
            "prompt_tuning",
            config={"config": "prompt_tuning", "prompt_length": 4},
            identity_config={},
            resized={"prompt_length": 6},
        ),
        # Suffix positions move as generation without the cache re-runs a longer input, so the configs the generic
        # checks use intervene on prefix positions; the ReFT checks cover suffix positions and tied weights. No
        # dropout: AdapterHub's default (0.05) would make the checks' training-mode forward passes differ run to run.
        _reft("loreft"),
        _reft("noreft", prefix_positions=2),
        _reft("direft", prefix_positions=4),
    )
}

assert set(METHODS) == set(METHOD_FEATURE), "every method of architectures.features needs an entry here"
