"""Prompt tuning (Lester et al., 2021): trained vectors put into the input sequence, as if they were embedded tokens.

Tensor (``conformance.weights``): ``model.prompt.embedding``, prompt_length x hidden.

Definition, as the reference documents it (``PromptTuningConfig.combine``):

- text models: the prompt goes into the embedded input (``inputs_embeds``), before the first real token of each row
  (``combine="prefix"``, the default), after it (``"prefix_after_bos"``, which keeps a [CLS] / <bos> first) or after
  the last real token (``"suffix"``); the attention mask attends to it. The model then embeds the longer sequence, so
  the prompt gets the positions (and token type 0) of the places it takes, and the tokens after it shift.
  Encoder-decoder models put it into the encoder's input; the decoder attends to it.
- vision models: the prompt goes into the output of the module holding the patch embeddings (class token and
  position embeddings added already: the prompt has no position, as in visual prompt tuning), at the same places
  counted over that sequence (``"prefix"``: before the class token; ``"prefix_after_bos"``: right after it).
- the prompt positions are cut from the base model's sequence outputs (``last_hidden_state``, ``hidden_states``) of
  encoder-only, decoder-only and vision models, so that the outputs line up with the input; encoder-decoder outputs
  are the decoder's and keep their length. A pooler inside the base model reads the uncut sequence.

AdapterHub ``adapters`` 1.3 differs: it appends the prompt to the *output* of the embedding module (the prompt gets no
position embeddings and the tokens keep theirs), uses only the first adapter of the setup, has no ``"suffix"``, and
keeps the prompt positions in the outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from architectures.live import base_model, get_path, resolve_layout
from conformance.weights import key

from .base import MethodOracle
from .registry import defines


EMBEDDING = key(None, "prompt", "embedding")
DEFAULTS = {"prompt_length": 10, "combine": "prefix"}  # AdapterHub's published defaults
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


@defines("prompt_tuning")
class PromptTuningOracle(MethodOracle):
    @staticmethod
    def prompt(weights: dict[str, torch.Tensor], config: dict[str, Any]) -> torch.Tensor:
        unknown = sorted(set(config) - set(DEFAULTS) - set(INIT_FIELDS))
        if unknown:
            raise ValueError(f"the prompt-tuning oracle does not define the field(s) {unknown}")
        if _option(config, "combine") not in ("prefix", "prefix_after_bos", "suffix"):
            raise ValueError(
                f"combine={_option(config, 'combine')!r}: the oracle knows prefix, prefix_after_bos, suffix"
            )
        prompt = weights[EMBEDDING]
        if prompt.shape[0] != _option(config, "prompt_length"):
            raise ValueError(
                f"{EMBEDDING} has {prompt.shape[0]} rows; the config asks for prompt_length="
                f"{_option(config, 'prompt_length')}"
            )
        return prompt

    @staticmethod
    def points(spec: Any, config: dict[str, Any], inputs: dict[str, Any], length: int) -> list[int]:
        combine = _option(config, "combine")
        mask = inputs.get("attention_mask") if spec.modality != "vision" else None
        if mask is None:
            batch = next(v for v in inputs.values() if isinstance(v, torch.Tensor)).shape[0]
            mask = torch.ones(batch, length, dtype=torch.bool)
        return insertion_points(mask, combine)

    def prepare_inputs(self, model, spec, weights, config, inputs):
        if spec.modality == "vision":
            return inputs
        if inputs.get("position_ids") is not None or inputs.get("input_ids") is None:
            raise ValueError("the prompt-tuning oracle embeds input_ids itself and places positions by default")
        prompt = self.prompt(weights, config)
        ids = inputs.pop("input_ids")
        points = self.points(spec, config, inputs, ids.shape[1])
        embeds = base_model(model).get_input_embeddings()(ids)
        inputs["inputs_embeds"] = insert(embeds, prompt, points)
        mask = inputs.get("attention_mask")
        mask = torch.ones(ids.shape, dtype=torch.long) if mask is None else mask
        inputs["attention_mask"] = insert(mask, mask.new_ones(prompt.shape[0]), points)
        if inputs.get("token_type_ids") is not None:
            inputs["token_type_ids"] = insert(inputs["token_type_ids"], ids.new_zeros(prompt.shape[0]), points)
        return inputs

    @contextlib.contextmanager
    def hooks(self, model, spec, weights, config, inputs) -> Iterator[None]:
        prompt = self.prompt(weights, config)
        handles = []
        try:
            if spec.modality == "vision":
                handles.append(self._vision_insert(model, spec, config, inputs, prompt))
            if not spec.is_encoder_decoder:
                handles.append(self._cut_outputs(model, spec, config, inputs, len(prompt)))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _vision_insert(self, model, spec, config, inputs, prompt):
        holder = resolve_layout(spec, model).embeddings.rsplit(".", 1)[0]  # holds the patch embeddings

        def put_in(module, args, output):
            return insert(output, prompt, self.points(spec, config, inputs, output.shape[1]))

        return get_path(base_model(model), holder).register_forward_hook(put_in)

    def _cut_outputs(self, model, spec, config, inputs, count: int):
        def cut_prompt(module, args, output):
            full = output["last_hidden_state"]
            points = self.points(spec, config, inputs, full.shape[1] - count)
            output["last_hidden_state"] = cut(full, count, points)
            if output.get("hidden_states") is not None:
                output["hidden_states"] = tuple(cut(h, count, points) for h in output["hidden_states"])
            return output

        return base_model(model).register_forward_hook(cut_prompt)
