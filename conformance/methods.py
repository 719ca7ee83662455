"""The adapter methods under test: the configs the checks use for each, as data. Capabilities live in the specs."""

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
    resized: dict[str, Any]  # config changes that change the shapes of the adapter's weights
    mergeable: bool = False  # merge_adapter / reset_adapter are defined
    per_layer: bool = True  # the adapter has modules in (every non-left-out) transformer layer

    @property
    def feature(self) -> str:
        return METHOD_FEATURE[self.name]


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
            mergeable=True,
        ),
    )
}

assert set(METHODS) == set(METHOD_FEATURE), "every method of architectures.features needs an entry here"
