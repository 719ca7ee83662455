"""Running a plain model as the oracles say an adapter setup behaves."""

from __future__ import annotations

import copy
from typing import Any

import torch

from conformance.models import main_output

from .base import installed
from .registry import oracle_for


@torch.no_grad()
def expected_output(
    plain: torch.nn.Module,
    spec: Any,
    config: dict[str, Any],
    weights: dict[str, torch.Tensor],
    inputs: dict[str, Any],
) -> torch.Tensor:
    """What a model with one active adapter of ``config`` and canonical ``weights`` outputs, by the definition."""
    oracle = oracle_for(config["config"])
    model = copy.deepcopy(plain)
    edits, captures = oracle.edits(model, spec, weights, config)
    prepared = oracle.prepare_inputs(model, spec, weights, config, dict(inputs))
    with installed(model, edits, captures), oracle.hooks(model, spec, weights, config, inputs):
        output = main_output(model(**prepared))
    return oracle.finish_output(output, config, inputs)
