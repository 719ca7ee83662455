"""Model-level forward hooks: replicate the batch for a Parallel block, and report AdapterFusion attentions."""

from __future__ import annotations

from typing import Any

import torch

from .composition import CompositionBlock, Parallel
from .context import context_setup
from .sites import FUSION, sites


BATCH_INPUTS = ("input_ids", "inputs_embeds", "pixel_values", "input_features", "input_values", "decoder_input_ids")


def parallel_width(setup: CompositionBlock | None) -> int:
    """How many copies of the batch the setup's Parallel block needs (1 without one)."""
    if setup is None:
        return 1
    for child in setup:
        if isinstance(child, Parallel):
            return len(child)
        if isinstance(child, CompositionBlock) and (width := parallel_width(child)) > 1:
            return width
    return 1


def batch_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    for name in BATCH_INPUTS:
        if isinstance(kwargs.get(name), torch.Tensor):
            return kwargs[name].shape[0]
    if args and isinstance(args[0], torch.Tensor):
        return args[0].shape[0]
    return None


def replicate(args: tuple[Any, ...], kwargs: dict[str, Any], width: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every batch-sized tensor repeated ``width`` times along the batch; other arguments unchanged."""
    size = batch_size(args, kwargs)
    if size is None:
        return args, kwargs

    def widen(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == size:
            return value.repeat(width, *([1] * (value.dim() - 1)))
        return value

    return tuple(widen(a) for a in args), {k: widen(v) for k, v in kwargs.items()}


def _before_forward(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple, dict]:
    state = model.adapter_state
    state.record_fusion_attentions = bool(kwargs.pop("output_adapter_fusion_attentions", False))
    width = parallel_width(context_setup() or state.active)
    if width > 1 and not state.inputs_parallelized:
        args, kwargs = replicate(args, kwargs, width)
    state.batch_rows = batch_size(args, kwargs)
    return args, kwargs


def _after_forward(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
    state = model.adapter_state
    if not state.record_fusion_attentions:
        return None
    state.record_fusion_attentions = False
    attentions = {}
    for _, site in sites(model):
        if FUSION in site:
            for name, fusion in site[FUSION].items():
                if fusion.last_scores is not None:
                    attentions.setdefault(name, {})[site.location + f".{site.layer_index}"] = fusion.last_scores
    try:
        output["adapter_fusion_attentions"] = attentions
    except TypeError:
        return output  # a plain tuple output has no place for them
    return output


def install_forward_hooks(model: Any) -> None:
    model.register_forward_pre_hook(_before_forward, with_kwargs=True)
    model.register_forward_hook(_after_forward, with_kwargs=True)


class ParallelGenerationMixin:
    """``generate`` with a Parallel block: the inputs are replicated once, and every step runs on all branches."""

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        state = self.adapter_state
        width = parallel_width(context_setup() or state.active)
        if width == 1:
            return super().generate(*args, **kwargs)
        args, kwargs = replicate(args, kwargs, width)
        state.inputs_parallelized = True
        try:
            return super().generate(*args, **kwargs)
        finally:
            state.inputs_parallelized = False
