"""Prompt tuning: trained vectors inserted into the input sequence, with the attention mask and positions to match.

Text models: a forward pre-hook on the module that takes the token ids (the base model; the encoder of an
encoder-decoder) embeds them, inserts the active prompts and extends ``attention_mask``, ``token_type_ids``,
``position_ids`` and ``cache_position`` alike; the model then runs on ``inputs_embeds``, so the prompt gets positions
of its own. Each row's prompt goes right before its first real token, right after it, or right after its last one
(read off the attention mask), so that padding moves the prompt no more than it moves the tokens. In cached
decoding steps nothing is inserted; the mask and positions are extended to cover the prompt in the cache.
Encoder-decoder models keep the prompt in the encoder output (the decoder attends to it); a pre-hook on the decoder
extends its ``encoder_attention_mask``.

``placement="embeddings_output"`` (AdapterHub's placement) keeps that route for the mask and token types, but the
module that embeds the input (BERT's ``embeddings``) runs on the input as given, so the tokens keep their positions,
and its output gets the raw prompt vectors inserted (``EmbeddingOutputInserter``): no position, type or layer norm.

Vision models: the prompt is inserted into the output of the module holding the patch embeddings (after the class
token and position embeddings are added: prompt vectors have no position, as in visual prompt tuning).

The prompt positions are cut from the sequence outputs of encoder-only, decoder-only and vision models (a forward
hook on the same module), so every output lines up with the input: token-level heads, labels, last-token pooling and
generation work unchanged. Attention maps and the key/value cache keep them. A pooler inside the model reads position
0, the first prompt vector with ``combine="prefix"``; ``"prefix_after_bos"`` keeps the [CLS]/<bos> token there.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from architectures.live import base_model, get_path

from ..configs.prompt_tuning import PromptTuningConfig
from ..sites import site_of
from ..state import AdapterState
from .base import MethodFamily, Placement, SiteAdapter, register_family
from .model_level import (
    HOLDER_LOCATION,
    MODEL_LEVEL,
    ModelHook,
    active_names,
    cached_length,
    held,
    holder_module,
    input_embeddings,
    install_hook,
    keyword_arguments,
    remove_hook,
    stack_hosts,
)


class SoftPrompt(SiteAdapter):
    """``prompt_length`` trained vectors and where they go (``combine``)."""

    def __init__(self, config: PromptTuningConfig, hidden_size: int, init: torch.Tensor | None, generator: Any):
        super().__init__()
        self.combine = config.combine
        self.placement = config.placement
        self.prompt = nn.Parameter(torch.empty(config.prompt_length, hidden_size))
        with torch.no_grad():
            if init is None:
                scale = config.random_uniform_scale
                self.prompt.uniform_(-scale, scale, generator=generator)
            else:
                self.prompt.copy_(init)

    def __len__(self) -> int:
        return self.prompt.shape[0]

    def apply(self, x: Any, output: Any, site: Any) -> Any:
        raise RuntimeError("a soft prompt is inserted by the prompt-tuning family's input hooks, not on a site")


class _PromptHook(ModelHook):
    def __init__(self, holder: nn.Module, state: AdapterState):
        self.holder = holder
        self.state = state

    def prompts(self) -> list[SoftPrompt]:
        """The prompts of the setup in force, in the order they are inserted."""
        site = site_of(self.holder)
        if site is None or PromptTuningFamily.name not in site:
            return []
        family = site[PromptTuningFamily.name]
        return [family[name] for name in active_names(self.state) if name in family]


def insert(seq: torch.Tensor, piece: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """``piece`` (batch, P, ...) put into ``seq`` (batch, L, ...) before position ``at[row]`` of each row."""
    batch, length, count = seq.shape[0], seq.shape[1], piece.shape[1]
    positions = torch.arange(length + count, device=seq.device).unsqueeze(0)
    at = at.to(seq.device).unsqueeze(1)
    from_piece = (positions >= at) & (positions < at + count)
    source = torch.where(positions < at, positions, positions - count).clamp(0, max(length - 1, 0))
    offset = (positions - at).clamp(0, count - 1)
    tail = (1,) * (seq.dim() - 2)
    take_seq = seq.gather(1, source.view(batch, -1, *tail).expand(-1, -1, *seq.shape[2:]))
    take_piece = piece.gather(1, offset.view(batch, -1, *tail).expand(-1, -1, *piece.shape[2:]))
    return torch.where(from_piece.view(batch, -1, *tail), take_piece, take_seq)


def insertion_point(present: torch.Tensor, combine: str) -> torch.Tensor:
    """Per row, where a prompt goes: before the first real token, after it, or after the last one."""
    length = present.shape[1]
    anything = present.any(dim=1)
    first = torch.where(anything, present.int().argmax(dim=1), 0)
    if combine == "prefix":
        return first
    end = torch.where(anything, length - present.flip(1).int().argmax(dim=1), length)
    return torch.minimum(first + 1, end) if combine == "prefix_after_bos" else end


Plan = list[tuple[SoftPrompt, torch.Tensor]]


def plan(prompts: list[SoftPrompt], mask: torch.Tensor | None, batch: int, length: int, device: Any) -> Plan:
    """Each prompt with its insertion points in the sequence the earlier ones made, in order; ``mask`` says which
    positions hold real tokens. Each prompt goes at its own point of the input, after the earlier prompts at that
    point (a Stack concatenates prompts at one place in stack order)."""
    if mask is not None and mask.dim() != 2:
        raise ValueError(f"prompt tuning extends a 2D attention mask (batch, length), got shape {tuple(mask.shape)}")
    present = torch.ones(batch, length, dtype=torch.bool, device=device) if mask is None else (mask != 0)
    steps, placed = [], []
    for prompt in prompts:
        point = insertion_point(present, prompt.combine)
        at = point + sum(len(earlier) * (where <= point) for earlier, where in placed)
        steps.append((prompt, at))
        placed.append((prompt, point))
    return steps


def extend(seq: torch.Tensor, steps: Plan, fill: float | int) -> torch.Tensor:
    """``seq`` (a mask, token types) with ``fill`` at every prompt position."""
    for prompt, at in steps:
        seq = insert(seq, seq.new_full((seq.shape[0], len(prompt), *seq.shape[2:]), fill), at)
    return seq


def extend_positions(ids: torch.Tensor, steps: Plan) -> torch.Tensor:
    """Position ids with the prompts inserted: a prompt continues the positions where it goes, later tokens shift."""
    for prompt, at in steps:
        count, length = len(prompt), ids.shape[1]
        column = at.to(ids.device).unsqueeze(1)
        if prompt.combine == "suffix":
            base = ids.gather(1, (column - 1).clamp(0, length - 1)) + 1
        else:
            base = ids.gather(1, column.clamp(0, length - 1))
        shifted = torch.where(torch.arange(length, device=ids.device) >= column, ids + count, ids)
        ids = insert(shifted, base + torch.arange(count, device=ids.device), at)
    return ids


def kept_positions(steps: Plan, batch: int, length: int, device: Any) -> torch.Tensor:
    """(batch, length): per row, the positions of the extended sequence that hold the input, in order."""
    marks = extend(torch.zeros(batch, length, dtype=torch.bool, device=device), steps, True)
    return torch.argsort(marks.int(), dim=1, stable=True)[:, :length]


def cut(output: Any, keep: torch.Tensor, full: int) -> Any:
    """``output`` with its sequence outputs (3D tensors of the extended length ``full``) cut to ``keep``."""

    def one(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() == 3 and value.shape[1] == full:
            return value.gather(1, keep.to(value.device).unsqueeze(-1).expand(-1, -1, value.shape[-1]))
        if isinstance(value, tuple) and value and all(isinstance(v, torch.Tensor) and v.dim() == 3 for v in value):
            return tuple(one(v) for v in value)
        return value

    if isinstance(output, torch.Tensor):
        return one(output)
    if isinstance(output, tuple):
        return type(output)(one(v) for v in output) if type(output) is tuple else output
    for key in ("last_hidden_state", "hidden_states"):
        if output.get(key) is not None:
            output[key] = one(output[key])
    return output


class PromptInserter(_PromptHook):
    """On the module that takes the input: insert the prompts (text) and cut them from the outputs (``strip``)."""

    attribute = "_adapter_prompt"
    prepend = True  # before other input hooks, so that they see the extended sequence and mask

    def __init__(self, holder: nn.Module, state: AdapterState, embeddings: nn.Module | None, strip: bool):
        super().__init__(holder, state)
        self.embeddings = embeddings  # None for vision models: see VisionInserter
        self.strip = strip
        self.pending: tuple[torch.Tensor, int] | None = None  # (kept positions, extended length) to cut afterwards
        self.embedding_call: EmbeddingCall | None = None  # for EmbeddingOutputInserter, in this forward

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.pending = self.embedding_call = None
        prompts = self.prompts()
        if not prompts:
            return None
        kwargs = keyword_arguments(module, args, kwargs)
        mask = kwargs.get("attention_mask")
        if self.embeddings is None:  # vision: the patches are extended where they are embedded, at fixed places
            if isinstance(mask, torch.Tensor):
                kwargs["attention_mask"] = extend(mask, plan(prompts, None, *mask.shape, mask.device), 1)
            return (), kwargs
        past = cached_length(kwargs)
        if past == 0:
            self._insert(kwargs, prompts)
            return (), kwargs
        # a cached decoding step: the prompt is in the cache already; mask and positions must count it
        total, new = sum(len(p) for p in prompts), _new_length(kwargs)
        if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape[1] + total == past + new:
            kwargs["attention_mask"] = extend(mask, plan(prompts, mask, *mask.shape, mask.device), 1)
        if isinstance(kwargs.get("position_ids"), torch.Tensor):
            kwargs["position_ids"] = kwargs["position_ids"] + total
        if isinstance(kwargs.get("cache_position"), torch.Tensor):
            kwargs["cache_position"] = torch.arange(past, past + new, device=kwargs["cache_position"].device)
        return (), kwargs

    def _insert(self, kwargs: dict[str, Any], prompts: list[SoftPrompt]) -> None:
        originals = {key: kwargs.get(key) for key in ORIGINALS.values()}
        embeds = kwargs.get("inputs_embeds")
        if embeds is None:
            if kwargs.get("input_ids") is None:
                raise ValueError("prompt tuning needs input_ids or inputs_embeds")
            embeds = self.embeddings(kwargs["input_ids"])
        batch, length = embeds.shape[:2]
        mask = kwargs.get("attention_mask")
        steps = plan(prompts, mask if isinstance(mask, torch.Tensor) else None, batch, length, embeds.device)
        for prompt, at in steps:
            embeds = insert(embeds, prompt.prompt.to(embeds.dtype).expand(batch, -1, -1), at)
        kwargs["input_ids"], kwargs["inputs_embeds"] = None, embeds
        if isinstance(mask, torch.Tensor):
            kwargs["attention_mask"] = extend(mask, steps, 1)
        if isinstance(kwargs.get("token_type_ids"), torch.Tensor):
            kwargs["token_type_ids"] = extend(kwargs["token_type_ids"].expand(batch, -1), steps, 0)
        if isinstance(kwargs.get("position_ids"), torch.Tensor):
            kwargs["position_ids"] = extend_positions(kwargs["position_ids"].expand(batch, -1), steps)
        if isinstance(kwargs.get("cache_position"), torch.Tensor):
            kwargs["cache_position"] = torch.arange(embeds.shape[1], device=kwargs["cache_position"].device)
        if isinstance(kwargs.get("seq_len"), int):  # a length passed beside the inputs (ModernBERT's heads, 4.x)
            kwargs["seq_len"] = embeds.shape[1]
        self.record(steps, batch, length, embeds.device)
        if _placement(prompts) == "embeddings_output":
            keep = kept_positions(steps, batch, length, embeds.device)
            self.embedding_call = EmbeddingCall(originals, steps, keep, embeds.shape[1])

    def record(self, steps: Plan, batch: int, length: int, device: Any) -> None:
        if self.strip:
            self.pending = (kept_positions(steps, batch, length, device), length + sum(len(p) for p, _ in steps))

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        pending, self.pending = self.pending, None
        if self.embedding_call is not None:
            self.embedding_call = None
            raise RuntimeError(
                "prompt tuning with placement='embeddings_output': the module that embeds the input did not run in "
                "this forward pass, so the prompt was never placed"
            )
        return None if pending is None else cut(output, *pending)


def _placement(prompts: list[SoftPrompt]) -> str:
    found = {prompt.placement for prompt in prompts}
    if len(found) > 1:
        raise ValueError(f"the prompts of one adapter setup must share a placement, got {sorted(found)}")
    return found.pop()


# The embedding module's arguments that are given back as the host got them (its name -> the host's name); DistilBERT
# names its embedded input input_embeds
ORIGINALS = {
    "input_ids": "input_ids",
    "inputs_embeds": "inputs_embeds",
    "input_embeds": "inputs_embeds",
    "token_type_ids": "token_type_ids",
    "position_ids": "position_ids",
}


class EmbeddingCall:
    """What the host's pre-hook leaves for the embedding module's: the host's input as given, where the prompts go,
    the positions that hold the input and the extended length."""

    def __init__(self, originals: dict[str, Any], steps: Plan, keep: torch.Tensor, full: int):
        self.originals, self.steps, self.keep, self.full = originals, steps, keep, full

    def drop_prompts(self, value: torch.Tensor) -> torch.Tensor:
        """A tensor of the extended length (batch, full, ...) at the input's positions only."""
        value = value.expand(self.keep.shape[0], *value.shape[1:])
        index = self.keep.to(value.device).view(*self.keep.shape, *(1,) * (value.dim() - 2))
        return value.gather(1, index.expand(-1, -1, *value.shape[2:]))


class EmbeddingOutputInserter(_PromptHook):
    """On the module that embeds a text model's input (``placement="embeddings_output"``): it runs on the input as
    given (its extended arguments cut back: DeBERTa's mask), and the prompts go into its output."""

    attribute = "_adapter_prompt_embedding_output"

    def __init__(self, holder: nn.Module, state: AdapterState, host_hook: PromptInserter):
        super().__init__(holder, state)
        self.host_hook = host_hook
        self.pending: EmbeddingCall | None = None

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call, self.host_hook.embedding_call = self.host_hook.embedding_call, None
        self.pending = call
        if call is None:
            return None
        kwargs = keyword_arguments(module, args, kwargs)
        parameters = inspect.signature(module.forward).parameters
        for key, value in kwargs.items():
            if key not in ORIGINALS and isinstance(value, torch.Tensor) and value.dim() >= 2:
                if value.shape[1] == call.full:
                    kwargs[key] = call.drop_prompts(value)
        for key, source in ORIGINALS.items():
            if key in parameters:
                kwargs[key] = call.originals[source]
        return (), kwargs

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        call, self.pending = self.pending, None
        if call is None:
            return None
        rest = ()
        if isinstance(output, tuple) and output:
            output, rest = output[0], output[1:]
        batch = output.shape[0]
        for prompt, at in call.steps:
            output = insert(output, prompt.prompt.to(output.dtype).expand(batch, -1, -1), at)
        return (output, *rest) if rest else output


def _new_length(kwargs: dict[str, Any]) -> int:
    for key in ("input_ids", "inputs_embeds"):
        if isinstance(kwargs.get(key), torch.Tensor):
            return kwargs[key].shape[1]
    raise ValueError("prompt tuning needs input_ids or inputs_embeds")


class VisionInserter(_PromptHook):
    """Forward hook on the module holding the patch embeddings: insert the prompts into its output sequence."""

    attribute = "_adapter_prompt_vision"

    def __init__(self, holder: nn.Module, state: AdapterState, host_hook: PromptInserter):
        super().__init__(holder, state)
        self.host_hook = host_hook

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        prompts = self.prompts()
        rest = ()
        if isinstance(output, tuple) and output:  # 4.x BEiT's embeddings: (embeddings, (patch rows, patch columns))
            output, rest = output[0], output[1:]
        if not prompts or not isinstance(output, torch.Tensor):
            return None
        batch, length = output.shape[:2]
        steps = plan(prompts, None, batch, length, output.device)
        for prompt, at in steps:
            output = insert(output, prompt.prompt.to(output.dtype).expand(batch, -1, -1), at)
        self.host_hook.record(steps, batch, length, output.device)
        return (output, *rest) if rest else output


class CrossAttentionMask(_PromptHook):
    """On the decoder of an encoder-decoder: extend ``encoder_attention_mask`` over the prompt in the encoder output."""

    attribute = "_adapter_prompt_cross"

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        prompts = self.prompts()
        if not prompts:
            return None
        kwargs = keyword_arguments(module, args, kwargs)
        states, mask = kwargs.get("encoder_hidden_states"), kwargs.get("encoder_attention_mask")
        total = sum(len(p) for p in prompts)
        if isinstance(states, torch.Tensor) and isinstance(mask, torch.Tensor) and mask.dim() == 2:
            if states.shape[1] == mask.shape[1] + total:  # the same places as in the encoder, from the same mask
                kwargs["encoder_attention_mask"] = extend(mask, plan(prompts, mask, *mask.shape, mask.device), 1)
        return (), kwargs


def _patch_embedding_parent(model: Any, state: AdapterState) -> nn.Module:
    path = state.layout.embeddings
    if "." not in path:
        raise ValueError(
            f"{state.spec.name}: prompt tuning inserts the prompt into the output of the module that holds the patch "
            f"embeddings ({path!r}); this layout has none above them"
        )
    return get_path(base_model(model), path.rsplit(".", 1)[0])


def _hooked_modules(model: Any, state: AdapterState) -> Iterator[tuple[nn.Module, type[ModelHook]]]:
    """Every module the family hooks on this model, with the kind of hook."""
    if not state.spec.modality.token_inputs:  # pixels (or audio): the prompt goes after the patch embeddings
        yield base_model(model), PromptInserter
        yield _patch_embedding_parent(model, state), VisionInserter
        return
    for host, is_decoder in stack_hosts(model, state):
        yield host, CrossAttentionMask if is_decoder else PromptInserter
    if state.layout.embedding_module is not None:  # placement="embeddings_output"
        yield get_path(base_model(model), state.layout.embedding_module), EmbeddingOutputInserter


def _token_embeddings(model: Any, state: AdapterState) -> nn.Module:
    return get_path(base_model(model), state.layout.embeddings)


@register_family
class PromptTuningFamily(MethodFamily):
    name = "prompt_tuning"

    def placements(self, state: AdapterState, model: Any, config: PromptTuningConfig) -> Iterator[Placement]:
        modality = state.spec.modality
        if config.combine == "suffix" and modality.causal:
            raise ValueError(
                f"{config.name}: combine='suffix' puts the prompt after the input, where no position of a causal "
                "decoder can attend to it; use 'prefix' or 'prefix_after_bos'"
            )
        if config.placement == "embeddings_output" and modality.token_inputs and state.layout.embedding_module is None:
            raise ValueError(
                f"{config.name}: placement='embeddings_output' puts the prompt into the output of a module that "
                f"embeds the input before the layers; {type(base_model(model)).__name__} has none (its token "
                f"embeddings {state.layout.embeddings!r} sit in a module that holds layers too, which adds any "
                "positions in its own forward): use placement='inputs_embeds'"
            )
        if config.prompt_init == "from_string":
            if not modality.token_inputs:
                raise ValueError(
                    f"{config.name}: a {modality} model has no token embeddings to initialise the prompt from; "
                    "use prompt_init='random_uniform'"
                )
            vocabulary = _token_embeddings(model, state).weight.shape[0]
            unknown = [i for i in config.prompt_init_ids if i >= vocabulary]
            if unknown:
                raise ValueError(
                    f"{config.name}: prompt_init_ids {unknown} are not below the vocabulary size {vocabulary}"
                )
        yield Placement(holder_module(model), MODEL_LEVEL, HOLDER_LOCATION, hooked=False)

    def build(
        self, config: PromptTuningConfig, placement: Placement, state: AdapterState, generator: Any
    ) -> SoftPrompt:
        if not state.spec.modality.token_inputs:
            return SoftPrompt(config, state.hidden_size, None, generator)
        weight = _token_embeddings(placement.module, state).weight
        init = None
        if config.prompt_init == "from_string":
            ids = list(config.prompt_init_ids)  # repeated, then cut, to the prompt length
            ids = (ids * math.ceil(config.prompt_length / len(ids)))[: config.prompt_length]
            init = weight.detach()[torch.tensor(ids)].clone()
        return SoftPrompt(config, weight.shape[1], init, generator)

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        holder = holder_module(model)
        host_hook: PromptInserter | None = None
        for module, kind in _hooked_modules(model, state):
            if kind is PromptInserter:
                embeddings = None if not state.spec.modality.token_inputs else input_embeddings(module, model, state)
                strip = not state.spec.is_encoder_decoder
                host_hook = install_hook(module, PromptInserter(holder, state, embeddings, strip))
            elif kind in (VisionInserter, EmbeddingOutputInserter):
                install_hook(module, kind(holder, state, host_hook))
            else:
                install_hook(module, kind(holder, state))

    def on_delete(self, model: Any, state: AdapterState) -> None:
        if held(model, self.name):
            return
        for module, kind in _hooked_modules(model, state):
            remove_hook(module, kind.attribute)
