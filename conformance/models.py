"""Tiny models and inputs for the checks: each model is built once per worker and handed out as a copy."""

from __future__ import annotations

import copy
import zlib
from collections import OrderedDict
from functools import cache
from typing import Any

import torch

from architectures.live import build_model, layers_of, resolve_layout
from architectures.spec import ArchitectureSpec

from . import impl


BATCH = 2
SEQ_LEN = 8
DECODER_LEN = 6


BIAS_SEED = 1


@cache
def _pristine(spec: ArchitectureSpec, class_name: str | None) -> torch.nn.Module:
    model = build_model(spec, class_name)
    # transformers initialises biases to zero; checks of merging and scaling would then never see them
    generator = torch.Generator().manual_seed(BIAS_SEED)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.add_(torch.randn(param.shape, generator=generator) * 0.02)
    return model


def plain_model(spec: ArchitectureSpec, class_name: str | None = None) -> torch.nn.Module:
    """A copy of the tiny model, without adapter support."""
    return clone(_pristine(spec, class_name))


_EMPTY_CONTAINERS = (dict, OrderedDict, set, list)


def clone(model: torch.nn.Module) -> torch.nn.Module:
    """``copy.deepcopy(model)``, about twice as fast: every module holds a dozen empty hook dicts, which deepcopy
    rebuilds one by one through ``__reduce_ex__``; handing it fresh empty ones up front gives the same copy."""
    memo: dict[int, Any] = {}
    for module in model.modules():
        for value in module.__dict__.values():
            if type(value) in _EMPTY_CONTAINERS and not value:
                memo[id(value)] = type(value)()  # one new container per old one: sharing stays as it was
    return copy.deepcopy(model, memo)


def adapter_model(spec: ArchitectureSpec, class_name: str | None = None) -> torch.nn.Module:
    """A copy of the tiny model, initialised for adapters by the implementation under test."""
    model = impl.init(plain_model(spec, class_name), spec)
    model.conformance_spec = spec  # the suite's own note, so that model_layers needs no implementation internals
    return model


def model_layers(model: torch.nn.Module, spec: ArchitectureSpec | None = None) -> list[torch.nn.Module]:
    """Every transformer layer of ``model`` (its layout's stacks in order), found through the suite's spec."""
    spec = spec or model.conformance_spec
    return [layer for stack in resolve_layout(spec, model).stacks for layer in layers_of(stack, model)]


def hidden_size(spec: ArchitectureSpec) -> int:
    """The width of the spec's hidden states, read off its config (transformers maps d_model, n_embd, ...)."""
    return spec.config_value(spec.make_config(), "hidden_size")


def seed_for(check_id: str) -> int:
    """A stable seed per check, so that every check sees its own inputs and reruns see the same."""
    return zlib.crc32(check_id.encode())


def check_id(nodeid: str) -> str:
    """``TestLoRA::test_merge[bert-lora]``: the node id without its file part, which depends on how pytest was
    invoked (a path, ``--pyargs``, another rootdir); seeds derive from this, so a check alone sees what it saw."""
    return nodeid.split("::", 1)[-1]


def make_inputs(spec: ArchitectureSpec, seed: int, batch: int = BATCH) -> dict[str, torch.Tensor]:
    """Seeded random inputs of the spec's modality: token ids and a mask, pixels or audio, decoder ids."""
    generator = torch.Generator().manual_seed(seed)
    return spec.modality.make_inputs(
        spec.make_config(), generator, batch, SEQ_LEN, DECODER_LEN, aliases=spec.config_aliases
    )


def prompt_inputs(spec: ArchitectureSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What ``generate`` starts from: the modality's inputs and mask, without the decoder ids it will produce."""
    keep = (spec.modality.main_input, *spec.modality.extra_inputs, "attention_mask")
    return {k: v for k, v in inputs.items() if k in keep}


def main_output(outputs: Any) -> torch.Tensor:
    """The tensor a check compares: logits for head models, the last hidden state otherwise. A dual encoder's
    (CLIP's) scores mix examples (texts against images), so there it is both towers' last hidden states, one after
    the other along the positions: a row per example, every adapter's effect in it."""
    for key in ("logits", "last_hidden_state"):
        value = getattr(outputs, key, None)
        if value is not None:
            return value
    towers = [
        value.last_hidden_state
        for key, value in outputs.items()
        if key.endswith("_model_output") and getattr(value, "last_hidden_state", None) is not None
    ]
    if towers:
        if len({state.shape[-1] for state in towers}) > 1:
            raise ValueError("the towers' hidden sizes differ: give the spec's tiny tower configs one hidden_size")
        return torch.cat(towers, dim=1)
    return outputs[0]


def run(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return main_output(model(**inputs))


@torch.no_grad()
def randomize_adapter(model: Any, name: str, seed: int, std: float = 0.1) -> None:
    """Give adapter ``name`` non-trivial weights, so that it visibly changes the outputs."""
    generator = torch.Generator().manual_seed(seed)
    for _, param in sorted(impl.adapter_parameters(model, name).items()):
        param.copy_(torch.randn(param.shape, generator=generator) * std)
    _randomize_projections(model, name, generator, std)


def _randomize_projections(model: Any, name: str, generator: torch.Generator, std: float) -> None:
    """ReFT's ``R`` through the weight view: the raw parameter may be a parametrisation (AdapterHub's LoReFT keeps
    an orthogonal one, which raw noise turns into zeros), so write R itself. An unconstrained R is written as drawn;
    a constrained one (the view refuses rows that are not orthonormal) with its rows orthonormalised. Read back, the
    effective R must be what was written, on every implementation."""
    for canonical, value in sorted(impl.adapter_weights(model, name).items()):
        if not (canonical.endswith("R") and ".reft." in canonical):
            continue
        drawn = torch.randn(value.shape, generator=generator) * std
        try:
            impl.set_adapter_weights(model, name, {canonical: drawn})
            written = drawn
        except KeyError:  # LoReFT: R has orthonormal rows
            written = torch.linalg.qr(drawn.T).Q.T.contiguous()
            impl.set_adapter_weights(model, name, {canonical: written})
        effective = impl.adapter_weights(model, name)[canonical]
        if not torch.allclose(effective, written.to(effective.dtype), atol=1e-5):
            raise AssertionError(f"{canonical}: the implementation's effective R is not the R written into it")


def tolerance(spec: ArchitectureSpec, check: str, default: float) -> float:
    override = spec.tolerances.get(check)
    return override[0] if override else default


def head_model_class(spec: ArchitectureSpec) -> str:
    """A head class to build for checks that want one: the first that is not a declared gap (a gap class may not even
    build from the spec's config: CLIPModel from a tower's), else the base class."""
    gaps = spec.heads.gaps if spec.heads is not None else {}
    return next((name for name in spec.head_classes if name not in gaps), spec.base_class)


def base_is_lm(spec: ArchitectureSpec) -> bool:
    """Whether the base class is itself the family's LM (EncoderDecoderModel ends in its decoder's LM head): read off
    transformers' auto mappings, which file it as a seq2seq or causal LM."""
    from architectures.heads import transformers_head_types

    wanted = "seq2seq_lm" if spec.modality.generation == "seq2seq" else "causal_lm"
    return wanted in (transformers_head_types(spec, spec.base_class) or ())


LM_HEAD_SUFFIXES = ("LMHeadModel", "ForCausalLM", "ForConditionalGeneration")


def lm_head_class(spec: ArchitectureSpec) -> str:
    """The family's language-modelling class (the one ``generate`` is for): the head map's class of the modality's
    LM head type (Marian's is ``MarianMTModel``), else read off the head class names."""
    wanted = "seq2seq_lm" if spec.modality.generation == "seq2seq" else "causal_lm"
    for entry in spec.heads.mapped if spec.heads is not None else ():
        if entry.head_type == wanted:
            return entry.class_name
    for name in spec.head_classes:
        if name.endswith(LM_HEAD_SUFFIXES):
            return name
    if base_is_lm(spec):
        return spec.base_class
    raise ValueError(f"{spec.module or spec.name}: no head class ending in {', '.join(LM_HEAD_SUFFIXES)}")
