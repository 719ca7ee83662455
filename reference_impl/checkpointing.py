"""Gradient checkpointing with adapters: the gradient must reach adapters inside checkpointed layers.

Under reentrant checkpointing (transformers 4.x's default) a checkpointed layer gets gradients only when one of its
inputs requires them; with the base model frozen none does, and the adapters inside would silently stop learning.
While checkpointing is on, the embedding output is therefore made to require grad. (On 4.x the reference also
checkpoints non-reentrantly unless told otherwise, as 5.x does: see ``ModelAdaptersMixin.gradient_checkpointing_enable``.)
"""

from __future__ import annotations

from typing import Any

import torch

from architectures.live import base_model, get_path


def _require_grad(module: torch.nn.Module, args: Any, output: Any) -> None:
    if isinstance(output, tuple) and output:  # 4.x BEiT's embeddings: (embeddings, (patch rows, patch columns))
        output = output[0]
    if isinstance(output, torch.Tensor) and torch.is_grad_enabled() and not output.requires_grad and output.is_leaf:
        output.requires_grad_(True)


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
