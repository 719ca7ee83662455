"""The reference's prompt tuning under canonical names (tensors and formula: ``conformance.oracles.prompt_tuning``).

``model.prompt.embedding``: the soft prompt, prompt_length x hidden. Where it goes (``combine``) is in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from conformance.weights import key

from .weights import register


FAMILY = "prompt_tuning"
EMBEDDING = key(None, "prompt", "embedding")


def _prompt(model: Any, name: str) -> torch.nn.Parameter | None:
    from reference_impl.methods.model_level import held

    module = held(model, FAMILY).get(name)
    return None if module is None else module.prompt


def read(model: Any, name: str) -> dict[str, torch.Tensor]:
    prompt = _prompt(model, name)
    return {} if prompt is None else {EMBEDDING: prompt.detach().clone()}


@torch.no_grad()
def write(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    prompt = _prompt(model, name)
    if prompt is not None and EMBEDDING in weights:
        prompt.copy_(weights[EMBEDDING])


register(FAMILY, read, write)
