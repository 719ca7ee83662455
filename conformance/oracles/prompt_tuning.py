"""Prompt tuning (Lester et al., 2021): trained vectors put into the input sequence, as if they were embedded tokens.

Tensor (``conformance.weights``): ``model.prompt.embedding``, prompt_length x hidden.

Definition, as the reference documents it (``PromptTuningConfig.combine``):

- text models: the prompt goes into the embedded input (``inputs_embeds``), before the first real token of each row
  (``combine="prefix"``, the default), after it (``"prefix_after_bos"``, which keeps a [CLS] / <bos> first) or after
  the last real token (``"suffix"``); the attention mask attends to it. The model then embeds the longer sequence, so
  the prompt gets the positions (and token type 0) of the places it takes, and the tokens after it shift.
  Encoder-decoder models put it into the encoder's input; the decoder attends to it.
- ``placement="embeddings_output"`` (text models; AdapterHub's placement): the module that embeds the input (the
  layout's ``embedding_module``, BERT's ``embeddings``: token, position and type embeddings, layer norm, dropout) gives
  what it gives the plain model for the input, and the prompt goes into that output at the same places: it gets no
  position, type or layer norm, and the tokens keep theirs; the attention mask attends to it as above. Models without
  such a module before their layers do not define it. The composition oracle does not define it either.
- vision models: the prompt goes into the output of the module holding the patch embeddings (class token and
  position embeddings added already: the prompt has no position, as in visual prompt tuning), at the same places
  counted over that sequence (``"prefix"``: before the class token; ``"prefix_after_bos"``: right after it).
- stacked prompt adapters (``Stack(a, b)``): each prompt goes at its own place in the input; prompts at the same
  place are concatenated in stack order (``[a; b]`` before the first token with ``"prefix"``).
- the prompt positions are cut from the base model's sequence outputs (``last_hidden_state``, ``hidden_states``) of
  encoder-only, decoder-only and vision models, so that the outputs line up with the input; encoder-decoder outputs
  are the decoder's and keep their length. A pooler inside the base model reads the uncut sequence.

AdapterHub ``adapters`` 1.3 differs: it appends the prompt to the *output* of the embedding module (the
``"embeddings_output"`` placement above), uses only the first adapter of the setup, has no ``"suffix"``, puts the
prompt at fixed positions (0, or 1 with ``"prefix_after_bos"``) whatever the padding, and keeps the prompt positions
in the outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from architectures.live import base_model, get_path, resolve_layout
from conformance.weights import key

from .base import MethodOracle, main_tensor
from .invertible import embedding_modules
from .registry import defines


EMBEDDING = key(None, "prompt", "embedding")
DEFAULTS = {"prompt_length": 10, "combine": "prefix", "placement": "inputs_embeds"}  # AdapterHub's, and the placement
PLACEMENTS = ("inputs_embeds", "embeddings_output")
# Fields that shape only how the prompt starts, not where it goes
INIT_FIELDS = (
    "config",
    "prompt_init",
    "prompt_init_ids",
    "prompt_init_text",
    "random_uniform_scale",
    "init_weights_seed",
)


def _option(config: dict[str, Any], name: str) -> Any:
    return config.get(name, DEFAULTS[name])


def insertion_points(present: torch.Tensor, combine: str) -> list[int]:
    """Per row of ``present`` (batch, length; True at real tokens): the position the prompt goes before."""
    points = []
    for row in present.bool():
        real = row.nonzero().flatten().tolist()
        first, end = (real[0], real[-1] + 1) if real else (0, row.numel())
        points.append({"prefix": first, "prefix_after_bos": min(first + 1, end), "suffix": end}[combine])
    return points


def insert(seq: torch.Tensor, piece: torch.Tensor, points: list[int]) -> torch.Tensor:
    """``piece`` (length, ...) put into each row of ``seq`` (batch, length, ...) before that row's point."""
    rows = [torch.cat([row[:at], piece.to(row.dtype), row[at:]]) for row, at in zip(seq, points, strict=True)]
    return torch.stack(rows)


def cut(seq: torch.Tensor, count: int, points: list[int]) -> torch.Tensor:
    """Each row of ``seq`` without the ``count`` positions from its point on."""
    return torch.stack([torch.cat([row[:at], row[at + count :]]) for row, at in zip(seq, points, strict=True)])


Member = tuple[dict[str, torch.Tensor], dict[str, Any]]  # (canonical weights, config) of one prompt adapter
Steps = list[tuple[torch.Tensor, list[int]]]  # each prompt with its points in the sequence the earlier ones made


def prompt_of(weights: dict[str, torch.Tensor], config: dict[str, Any]) -> torch.Tensor:
    unknown = sorted(set(config) - set(DEFAULTS) - set(INIT_FIELDS))
    if unknown:
        raise ValueError(f"the prompt-tuning oracle does not define the field(s) {unknown}")
    if _option(config, "combine") not in ("prefix", "prefix_after_bos", "suffix"):
        raise ValueError(f"combine={_option(config, 'combine')!r}: the oracle knows prefix, prefix_after_bos, suffix")
    if _option(config, "placement") not in PLACEMENTS:
        raise ValueError(f"placement={_option(config, 'placement')!r}: the oracle knows {PLACEMENTS}")
    prompt = weights[EMBEDDING]
    if prompt.shape[0] != _option(config, "prompt_length"):
        raise ValueError(
            f"{EMBEDDING} has {prompt.shape[0]} rows; the config asks for prompt_length={_option(config, 'prompt_length')}"
        )
    return prompt


def placement_of(members: list[Member]) -> str:
    found = {_option(config, "placement") for _, config in members}
    if len(found) != 1:
        raise ValueError(f"the prompt-tuning oracle places the prompts of one setup alike, got {sorted(found)}")
    return found.pop()


def _after_embedding_module(spec: Any, members: list[Member]) -> bool:
    return spec.modality != "vision" and placement_of(members) == "embeddings_output"


def steps(spec: Any, members: list[Member], inputs: dict[str, Any], length: int) -> Steps:
    """Where each member's prompt goes, in turn: its own point of the input (``length`` positions), after the
    prompts of earlier members at the same point or before it."""
    mask = inputs.get("attention_mask") if spec.modality != "vision" else None
    if mask is None:
        batch = next(v for v in inputs.values() if isinstance(v, torch.Tensor)).shape[0]
        mask = torch.ones(batch, length, dtype=torch.bool)
    found: Steps = []
    placed: list[tuple[list[int], int]] = []  # (points in the input, length) of the prompts placed so far
    for weights, config in members:
        prompt = prompt_of(weights, config)
        points = insertion_points(mask, _option(config, "combine"))
        shifted = [p + sum(n for earlier, n in placed if earlier[row] <= p) for row, p in enumerate(points)]
        found.append((prompt, shifted))
        placed.append((points, prompt.shape[0]))
    return found


def prepare_inputs(model: Any, spec: Any, members: list[Member], inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` embedded, with the members' prompts in the embedded sequence and the mask (and token types)."""
    if spec.modality == "vision":
        return inputs
    if inputs.get("position_ids") is not None or inputs.get("input_ids") is None:
        raise ValueError("the prompt-tuning oracle embeds input_ids itself and places positions by default")
    ids = inputs.pop("input_ids")
    mask = inputs.get("attention_mask")
    mask = torch.ones(ids.shape, dtype=torch.long) if mask is None else mask
    # what the (encoder) stack embeds its ids with: transformers 5.0.0's UMT5 keeps it apart from `shared`
    embeds, types = embedding_modules(model, spec)[0](ids), inputs.get("token_type_ids")
    after = _after_embedding_module(spec, members)  # then the embedding module's output replaces this (hooks)
    for prompt, points in steps(spec, members, {**inputs, "attention_mask": mask}, ids.shape[1]):
        count = prompt.shape[0]
        embeds = insert(embeds, torch.zeros_like(prompt) if after else prompt, points)
        mask = insert(mask, mask.new_ones(count), points)
        types = None if types is None else insert(types, types.new_zeros(count), points)
    inputs["inputs_embeds"], inputs["attention_mask"] = embeds, mask
    if types is not None:
        inputs["token_type_ids"] = types
    return inputs


@contextlib.contextmanager
def hooks(model: Any, spec: Any, members: list[Member], inputs: dict[str, Any]) -> Iterator[None]:
    """Vision: the prompts put into the patch sequence; all but encoder-decoders: the prompts cut from the outputs."""
    total = sum(prompt_of(weights, config).shape[0] for weights, config in members)
    handles = []
    try:
        if spec.modality == "vision":
            handles.append(_vision_insert(model, spec, members, inputs))
        elif _after_embedding_module(spec, members):
            handles.append(_embedding_output_insert(model, spec, members, inputs))
        if not spec.is_encoder_decoder:
            handles.append(_cut_outputs(model, spec, members, inputs, total))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _vision_insert(model, spec, members, inputs):
    holder = resolve_layout(spec, model).embeddings.rsplit(".", 1)[0]  # holds the patch embeddings

    def put_in(module, args, output):
        output, put = main_tensor(output)  # 4.x BEiT's embeddings: (embeddings, (patch rows, patch columns))
        for prompt, points in steps(spec, members, inputs, output.shape[1]):
            output = insert(output, prompt, points)
        return put(output)

    return get_path(base_model(model), holder).register_forward_hook(put_in)


def _embedding_output_insert(model, spec, members, inputs):
    """The embedding module's output for ``inputs`` in the plain model (a run of its own), with the prompts inserted,
    in place of whatever it computes from the extended input."""
    path = resolve_layout(spec, model).embedding_module
    if path is None:
        raise ValueError(
            f"{spec.name}: placement='embeddings_output' needs a module that embeds the input before the layers"
        )
    module, seen = get_path(base_model(model), path), []

    def record(module, args, output):
        seen.append(main_tensor(output)[0])

    handle = module.register_forward_hook(record)
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        handle.remove()
    embedded = seen[0]
    for prompt, points in steps(spec, members, inputs, embedded.shape[1]):
        embedded = insert(embedded, prompt, points)

    def replace(module, args, output):
        found, put = main_tensor(output)
        if found.shape != embedded.shape:
            raise ValueError(f"the embedding module gave {tuple(found.shape)}, expected {tuple(embedded.shape)}")
        return put(embedded)

    return module.register_forward_hook(replace)


def _cut_outputs(model, spec, members, inputs, total: int):
    def cut_all(seq: torch.Tensor) -> torch.Tensor:
        for prompt, points in reversed(steps(spec, members, inputs, seq.shape[1] - total)):
            seq = cut(seq, prompt.shape[0], points)
        return seq

    def cut_prompt(module, args, output):
        output["last_hidden_state"] = cut_all(output["last_hidden_state"])
        if output.get("hidden_states") is not None:
            output["hidden_states"] = tuple(cut_all(h) for h in output["hidden_states"])
        return output

    return base_model(model).register_forward_hook(cut_prompt)


@defines("prompt_tuning")
class PromptTuningOracle(MethodOracle):
    def prepare_inputs(self, model, spec, weights, config, inputs):
        return prepare_inputs(model, spec, [(weights, config)], inputs)

    def hooks(self, model, spec, weights, config, inputs):
        return hooks(model, spec, [(weights, config)], inputs)
