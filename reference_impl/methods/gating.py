"""Gates (UniPELT): a sigmoid over an adapter's input scales the adapter's effect, token by token.

Each token's gate reads that token only (not a mean over the sequence, as in the UniPELT paper's code): padding then
changes nothing, a decoder's gates stay causal, and generating with a KV cache gives what generating without does.

``model(**inputs, output_adapter_gating_scores=True)`` returns the gates of that forward pass in the output's
``adapter_gating_scores``: ``{adapter_name: {layer_index: {location: tensor(batch, sequence, 1)}}}``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import torch
from torch import nn


OUTPUT_ARGUMENT = "output_adapter_gating_scores"
_SCORES: ContextVar[dict[str, Any] | None] = ContextVar("adapter_gating_scores", default=None)
_HOOKS = "_adapter_gating_hooks"


def gate_of(linear: nn.Linear, source: torch.Tensor) -> torch.Tensor:
    """sigmoid(linear(source)): (batch, sequence, 1) for a (batch, sequence, features) source."""
    return torch.sigmoid(linear(source))


def record_gate(name: str, layer_index: int, location: str, scores: torch.Tensor, rows: int | None = None) -> None:
    """Keep ``scores`` if this forward pass reports gates; ``rows``: the batch size, to report the (batch * sequence,
    1) gates of a site whose layer flattens batch and sequence (OPT's FFN) as (batch, sequence, 1)."""
    recording = _SCORES.get()
    if recording is not None:
        if scores.dim() == 2 and rows and scores.shape[0] % rows == 0:
            scores = scores.unflatten(0, (rows, -1))
        recording.setdefault(name, {}).setdefault(layer_index, {})[location] = scores.detach()


def _before_forward(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple, dict]:
    wanted = bool(kwargs.pop(OUTPUT_ARGUMENT, False))
    model._adapter_gating_token = _SCORES.set({} if wanted else None)
    return args, kwargs


def _after_forward(model: Any, args: tuple[Any, ...], output: Any) -> Any:
    token = model.__dict__.pop("_adapter_gating_token", None)
    if token is None:
        return None
    scores = _SCORES.get()
    _SCORES.reset(token)
    if scores is None:
        return None
    try:
        output["adapter_gating_scores"] = scores
    except TypeError:
        return output  # a plain tuple output has no place for them
    return output


def install_output_hooks(model: nn.Module) -> None:
    """Let ``model`` take ``output_adapter_gating_scores=True``; idempotent."""
    if getattr(model, _HOOKS, None):
        return
    handles = (
        model.register_forward_pre_hook(_before_forward, with_kwargs=True),
        model.register_forward_hook(_after_forward, always_call=True),
    )
    object.__setattr__(model, _HOOKS, handles)


def remove_output_hooks(model: nn.Module) -> None:
    for handle in model.__dict__.pop(_HOOKS, ()):
        handle.remove()
