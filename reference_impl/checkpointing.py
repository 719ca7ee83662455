"""Gradient checkpointing with adapters: the gradient must reach adapters inside checkpointed layers.

Under reentrant checkpointing (transformers 4.x's default) a checkpointed layer gets gradients only when one of its
inputs requires them; with the base model frozen none does, and the adapters inside would silently stop learning.
While checkpointing is on, the embedding output is therefore made to require grad, and so are the float inputs of
every module that takes a stack's input (Whisper's audio encoder, a vision model's pixels), which embed with no table.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from architectures.live import base_model, get_path

from .methods.model_level import ModelHook, install_hook, remove_hook, stack_hosts


FLOAT_INPUTS = ("input_features", "input_values", "pixel_values", "inputs_embeds")


def _require_grad(module: torch.nn.Module, args: Any, output: Any) -> None:
    if isinstance(output, tuple) and output:  # 4.x BEiT's embeddings: (embeddings, (patch rows, patch columns))
        output = output[0]
    if isinstance(output, torch.Tensor) and torch.is_grad_enabled() and not output.requires_grad and output.is_leaf:
        output.requires_grad_(True)


def _needing_grad(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and not value.requires_grad:
        return value.detach().requires_grad_(True)  # a new tensor: the caller's stays as it was
    return value


class InputGrads(ModelHook):
    """Pre-hook on a stack's host: its float inputs require grad while gradients are on."""

    attribute = "_adapter_checkpoint_inputs"

    def __init__(self, host: torch.nn.Module):
        parameters = list(inspect.signature(host.forward).parameters)
        self.first_is_float_input = bool(parameters) and parameters[0] in FLOAT_INPUTS

    def pre(self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not torch.is_grad_enabled():
            return None
        if args and self.first_is_float_input:
            args = (_needing_grad(args[0]), *args[1:])
        return args, {k: _needing_grad(v) if k in FLOAT_INPUTS else v for k, v in kwargs.items()}


def set_input_grads(model: Any, enable: bool) -> None:
    """Make the float inputs of every stack host require grad, or stop doing so."""
    for host, _ in stack_hosts(model, model.adapter_state):
        if enable:
            install_hook(host, InputGrads(host))
        else:
            remove_hook(host, InputGrads.attribute)


def set_embedding_grads(model: Any, enable: bool) -> None:
    """Make the output of the model's embeddings (the spec's ``embeddings`` path) require grad, or stop doing so.
    Every module embedding with the same table is included: transformers 4.x's BART-like encoders and decoders embed
    with modules of their own that share the weight of ``shared``."""
    base = base_model(model)
    embeddings = get_path(base, model.adapter_state.layout.embeddings)
    table = getattr(embeddings, "weight", None)
    modules = [embeddings]
    if table is not None:
        modules += [m for m in base.modules() if m is not embeddings and getattr(m, "weight", None) is table]
    for embeddings in modules:
        ours = [key for key, hook in embeddings._forward_hooks.items() if hook is _require_grad]
        if enable and not ours:
            embeddings.register_forward_hook(_require_grad)
        elif not enable:
            for key in ours:
                del embeddings._forward_hooks[key]
