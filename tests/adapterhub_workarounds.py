"""Base-model changes that step around AdapterHub ``adapters``' own defects in the tests that compare the reference
with it (parity, interop, placements): each leaves the plain model's outputs as they are (or changes both sides
alike), so that the defect makes no difference and everything else is still compared. Each names its repro in
docs/adapters/repro/."""

from __future__ import annotations

import copy

import torch


def zero_bias_on(projection: str):
    """The model with a zero bias on every bias-free ``projection`` (a fused q/k/v): the same outputs, and AdapterHub's
    LoRA wrap copies that bias instead of adding one of its own, random on DeBERTa's ``in_proj``, uninitialised on
    ModernBERT's ``Wqkv`` (deberta_in_proj_bias.py, modernbert_init.py)."""

    def change(model):
        for name, module in list(model.named_modules()):
            if name.rpartition(".")[2] == projection and module.bias is None:
                with_bias = torch.nn.Linear(module.in_features, module.out_features, bias=True)
                with torch.no_grad():
                    with_bias.weight.copy_(module.weight)
                    with_bias.bias.zero_()
                parent, _, attribute = name.rpartition(".")
                setattr(model.get_submodule(parent), attribute, with_bias)

    return change


@torch.no_grad()
def silence_language_modules(model):
    """X-MOD whose language modules add nothing (their output projection zeroed), as adapters.init deletes them
    (xmod_language_modules.py)."""
    for name, param in model.named_parameters():
        if "adapter_modules" in name and "dense2" in name:
            param.zero_()


@torch.no_grad()
def without_position_bias(model):
    """T5 without its relative position bias: AdapterHub's T5 prefix takes positions (prefix_positions.py)."""
    for name, param in model.named_parameters():
        if "relative_attention_bias" in name:
            param.zero_()


def rebuilt_eager(model):
    """The same weights in a model built with eager attention (4.x BERT picks its attention class when built), on
    both sides of an encoder-decoder: AdapterHub's prefix under sdpa is wrong (model_level.py,
    prefix_sdpa_seq2seq.py)."""
    config = copy.deepcopy(model.config)
    for part in (config, getattr(config, "encoder", None), getattr(config, "decoder", None)):
        if part is not None:  # an encoder-decoder's towers keep their own
            part._attn_implementation = "eager"
    eager = type(model)(config)
    eager.load_state_dict(model.state_dict())
    return eager.eval()
