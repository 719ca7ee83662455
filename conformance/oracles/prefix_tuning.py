"""Prefix tuning (Li & Liang, 2021): trained keys and values in front of an attention's own.

Tensors (``conformance.weights``), per layer and attention kind, site ``self_attention.prefix`` or
``cross_attention.prefix``: ``key`` and ``value``, each prefix_length x kv_dim (kv_dim = key/value heads x head size,
in the key projection's output layout), the effective prefix (after any reparametrisation, without dropout); a gated
prefix (UniPELT) adds ``gate_weight`` (1 x hidden) and ``gate_bias`` (1).

Definition: an attention with prefix (K_p, V_p) over a query q computes
``softmax([q K_p^T * s, q K^T * s + bias + mask]) @ [V_p; V]``: every query attends every prefix position, the prefix
has no position (no rotary embedding, zero relative-position bias: T5's bias and DeBERTa's disentangled terms exist
between the sequence's own tokens only), and the tokens keep their own positions. Which attentions have one: the
self-attention of every layer not in ``leave_out``, except an encoder-decoder's encoder when ``encoder_prefix`` is
False, and every cross-attention unless ``cross_prefix`` is False.

How the suite applies it to a plain model, by the attention's kind:

- decoders (every layer with a prefix): the standard equivalence. The prefix is the model's key/value cache
  (a transformers ``DynamicCache``), the attention mask widened by the prefix length, explicit position ids so the
  tokens keep their positions; keys in a cache are already rotated, so rotary models never rotate the prefix.
- separate key and value projections (BERT, RoBERTa, ViT, T5): hooks put the prefix in front of the projections'
  outputs and widen the attention's mask; T5's position bias gets zero columns for the prefix in front of the bias
  the plain model computes for the same input (read off a plain forward pass first).
- a fused qkv projection outside a decoder (DeBERTa): the plain attention runs unchanged; its scaled queries (the
  first operand of its score product) and its final scores (the softmax input) are read off, and its output is
  mixed with the prefix's by the softmax over both: ``O = (Z_t O_t + sum_p exp(s_p) v_p) / (Z_t + sum_p exp(s_p))``
  with ``Z_t`` the plain scores' normaliser and ``s_p = q . k_p``, the scaled query on the prefix keys.

Gated prefixes have no oracle yet (``NotImplementedError``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from architectures.live import get_path, layers_of, resolve_layout
from conformance.weights import key

from .base import MethodOracle
from .registry import defines


DEFAULTS = {"prefix_length": 30, "leave_out": (), "encoder_prefix": True, "cross_prefix": True, "use_gating": False}
# Fields that shape only how a prefix is trained or parametrised, not the effective prefix the tensors give
TRAINING_FIELDS = ("config", "bottleneck_size", "non_linearity", "dropout", "flat", "init_weights_seed")
MASK_NAMES = ("attention_mask", "mask", "encoder_attention_mask")
CROSS_SOURCES = ("key_value_states", "encoder_hidden_states")  # what a cross-attention's keys are computed from
BIAS_NAME = "position_bias"


def _option(config: dict[str, Any], name: str) -> Any:
    return config.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class Prefixed:
    """One attention of the model: its module, projections and its prefix (length x kv_dim each; None: none)."""

    layer: int
    kind: str
    attention: torch.nn.Module
    keys_module: torch.nn.Module | None  # None for a fused qkv projection
    values_module: torch.nn.Module | None
    keys: torch.Tensor | None
    values: torch.Tensor | None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[0]


def attentions(
    model: torch.nn.Module, spec: Any, weights: dict[str, torch.Tensor], config: dict[str, Any]
) -> list[Prefixed]:
    """Every attention of the model, with the prefix the config gives it (read from ``weights``) or None."""
    unknown = sorted(set(config) - set(DEFAULTS) - set(TRAINING_FIELDS))
    if unknown:
        raise ValueError(f"the prefix-tuning oracle does not define the field(s) {unknown}")
    if _option(config, "use_gating"):
        raise NotImplementedError("the suite has no oracle for gated prefixes (use_gating=True) yet")
    length, leave_out = _option(config, "prefix_length"), set(_option(config, "leave_out"))
    found, index = [], 0
    layout = resolve_layout(spec, model)
    for stack in layout.stacks:
        is_encoder = spec.is_encoder_decoder and stack.cross_attention is None
        for layer in layers_of(stack, model):
            for kind, attention in (
                ("self_attention", stack.self_attention),
                ("cross_attention", stack.cross_attention),
            ):
                if attention is None:
                    continue
                wanted = _option(config, "cross_prefix") if kind == "cross_attention" else True
                wanted = wanted and not (is_encoder and not _option(config, "encoder_prefix"))
                keys = values = None
                if wanted and index not in leave_out:
                    keys, values = _prefix(weights, index, kind, length)
                fused = attention.fused
                found.append(
                    Prefixed(
                        index,
                        kind,
                        get_path(layer, attention.module),
                        None if fused else get_path(layer, attention.k),
                        None if fused else get_path(layer, attention.v),
                        keys,
                        values,
                    )
                )
            index += 1
    return found


def _prefix(weights: dict[str, torch.Tensor], layer: int, kind: str, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    names = [key(layer, f"{kind}.prefix", t) for t in ("key", "value")]
    missing = [n for n in names if n not in weights]
    if missing:
        raise KeyError(f"the config gives layer {layer}'s {kind} a prefix; the adapter has no {missing}")
    keys, values = (weights[n] for n in names)
    if keys.shape[0] != length or values.shape != keys.shape:
        raise ValueError(
            f"{names}: shapes {tuple(keys.shape)}, {tuple(values.shape)}; the config asks for prefix_length={length}"
        )
    return keys, values


def _heads(model: torch.nn.Module, flat: torch.Tensor, query_heads: bool = False) -> torch.Tensor:
    """(length, heads x head_dim) -> (heads, length, head_dim), with the key/value heads (or the query heads)."""
    config = model.config
    heads = config.num_attention_heads
    if not query_heads:
        heads = getattr(config, "num_key_value_heads", None) or heads
    return flat.view(flat.shape[0], heads, -1).transpose(0, 1)


def _kv_dim(model: torch.nn.Module) -> int:
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return heads * head_dim


def _hide_placeholder(attention: Prefixed, length: int) -> Any:
    """A pre-hook on a left-out decoder layer's attention: its mask hides the placeholder prefix in its cache."""
    signature = inspect.signature(attention.attention.forward)

    def hide(module, args, kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        mask = bound.arguments.get("attention_mask")
        if not isinstance(mask, torch.Tensor) or mask.dim() != 4:
            raise NotImplementedError("a left-out decoder layer needs a 4-d attention mask to hide the prefix from")
        hidden = False if mask.dtype == torch.bool else torch.finfo(mask.dtype).min
        bound.arguments["attention_mask"] = torch.cat(
            [mask[..., :length].clone().fill_(hidden), mask[..., length:]], -1
        )
        return bound.args, bound.kwargs

    return attention.attention.register_forward_pre_hook(hide, with_kwargs=True)


def _pad_front(tensor: torch.Tensor, length: int, value: float | bool | int) -> torch.Tensor:
    return torch.cat([tensor.new_full((*tensor.shape[:-1], length), value), tensor], dim=-1)


def _attend(mask: torch.Tensor) -> float | bool | int:
    """The mask entry that lets a query attend: True (boolean), 0 (additive float), 1 (0/1 integer)."""
    return True if mask.dtype == torch.bool else (0.0 if mask.is_floating_point() else 1)


def _cache_argument(model: torch.nn.Module) -> str:
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"  # transformers 5.x renames past_key_values


@defines("prefix_tuning")
class PrefixTuningOracle(MethodOracle):
    def prepare_inputs(self, model, spec, weights, config, inputs):
        every = attentions(model, spec, weights, config)
        if spec.modality != "decoder":
            return {**inputs, "use_cache": False} if spec.is_encoder_decoder else inputs
        from transformers import DynamicCache

        ids = inputs["input_ids"]
        batch, length = ids.shape
        prefix = max(attention.length for attention in every)
        cache = DynamicCache()
        for attention in every:  # a left-out layer gets a placeholder that its own mask hides (see hooks)
            flat = [attention.keys, attention.values]
            if attention.keys is None:
                flat = [torch.zeros(prefix, _kv_dim(model))] * 2
            keys, values = (_heads(model, t).unsqueeze(0).expand(batch, -1, -1, -1) for t in flat)
            cache.update(keys, values, attention.layer)
        mask = inputs.get("attention_mask")
        mask = torch.ones(batch, length, dtype=torch.long) if mask is None else mask
        inputs[_cache_argument(model)] = cache
        inputs["attention_mask"] = _pad_front(mask, prefix, 1)
        inputs["position_ids"] = torch.arange(length).expand(batch, -1)  # the tokens' own, as without a prefix
        return inputs

    @contextlib.contextmanager
    def hooks(self, model, spec, weights, config, inputs) -> Iterator[None]:
        every = attentions(model, spec, weights, config)
        targets = [attention for attention in every if attention.keys is not None]
        handles: list[Any] = []
        try:
            if spec.modality == "decoder":
                prefix = max(attention.length for attention in every)
                handles.extend(_hide_placeholder(a, prefix) for a in every if a.keys is None)
            else:
                biases = self._plain_position_biases(model, targets, inputs)
                for target in targets:
                    if target.keys_module is None:
                        handles.extend(_mixed_with_prefix(model, target))
                    else:
                        handles.extend(_prefix_in_front(target, biases.get(target.attention)))
            yield
        finally:
            for handle in handles:
                handle.remove()

    @staticmethod
    @torch.no_grad()
    def _plain_position_biases(model, targets: list[Prefixed], inputs) -> dict[torch.nn.Module, torch.Tensor]:
        """The position bias each attention that takes one (T5) uses in a plain forward pass of ``inputs``."""
        takers = {t.attention for t in targets if BIAS_NAME in inspect.signature(t.attention.forward).parameters}
        if not takers:
            return {}
        found: dict[torch.nn.Module, torch.Tensor] = {}

        def record(module, args, output):
            found[module] = output[1]

        handles = [attention.register_forward_hook(record) for attention in takers]
        try:
            model(**inputs)
        finally:
            for handle in handles:
                handle.remove()
        return found


def _pad_positions(tensor: torch.Tensor, length: int, value: float | bool | int, queries: bool) -> torch.Tensor:
    """A 4-d mask or bias (batch, heads, queries, keys) with ``length`` positions in front of its keys (and of its
    queries where ``queries`` and it has more than one)."""
    if tensor.dim() != 4:
        raise NotImplementedError(f"the prefix oracle widens 4-d attention masks and biases; got {tensor.dim()}-d")
    tensor = _pad_front(tensor, length, value)
    if queries and tensor.shape[2] > 1:
        tensor = _pad_front(tensor.transpose(2, 3), length, value).transpose(2, 3)
    return tensor


def _prefix_in_front(target: Prefixed, bias: torch.Tensor | None) -> list[Any]:
    """Hooks: ``length`` placeholder positions in front of the attention's key/value source (and, for
    self-attention, its queries, whose outputs are cut afterwards); the key and value projections give the prefix
    there; the mask attends to it, the position bias is zero on it.

    Placeholders rather than a longer projection output keep every shape the attention derives from its input
    consistent (transformers 5.x reshapes keys by the input's length)."""
    length, cross = target.length, target.kind == "cross_attention"
    signature = inspect.signature(target.attention.forward)
    hidden_name = next(iter(signature.parameters))

    def placeholders(states: torch.Tensor) -> torch.Tensor:
        return torch.cat([states.new_zeros(states.shape[0], length, *states.shape[2:]), states], dim=1)

    def widen(module, args, kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        arguments = bound.arguments
        if cross:
            source = next(n for n in CROSS_SOURCES if isinstance(arguments.get(n), torch.Tensor))
            arguments[source] = placeholders(arguments[source])
        else:
            arguments[hidden_name] = placeholders(arguments[hidden_name])
        for name in MASK_NAMES:
            if isinstance(arguments.get(name), torch.Tensor):
                arguments[name] = _pad_positions(arguments[name], length, _attend(arguments[name]), not cross)
        if bias is not None:
            arguments[BIAS_NAME] = _pad_positions(bias, length, 0.0, not cross)
        return bound.args, bound.kwargs

    def prefix_there(prefix: torch.Tensor):
        def hook(module, args, output):
            batch = output.shape[0]
            return torch.cat([prefix.to(output.dtype).expand(batch, -1, -1), output[:, length:]], dim=1)

        return hook

    def cut_placeholders(module, args, output):
        return None if cross else (output[0][:, length:], *output[1:])

    return [
        target.attention.register_forward_pre_hook(widen, with_kwargs=True),
        target.keys_module.register_forward_hook(prefix_there(target.keys)),
        target.values_module.register_forward_hook(prefix_there(target.values)),
        target.attention.register_forward_hook(cut_placeholders),
    ]


def _mixed_with_prefix(model: torch.nn.Module, target: Prefixed) -> list[Any]:
    """Hooks that read the plain attention's scaled queries and scores, and mix its output with the prefix's."""
    if getattr(target.attention, "head_logits_proj", None) is not None:
        raise NotImplementedError("the prefix oracle does not cover talking-heads attention (head_logits_proj)")
    seen: dict[str, torch.Tensor] = {}
    originals: dict[str, Any] = {}

    def reading(module, args):
        matmul, softmax = torch.matmul, torch.nn.functional.softmax
        originals.update(matmul=matmul, softmax=softmax)

        def first_matmul(a, b, *rest, **kw):
            seen.setdefault("queries", a)  # the first product is the scores: scaled queries times keys
            return matmul(a, b, *rest, **kw)

        def final_softmax(scores, *rest, **kw):
            seen["scores"] = scores
            return softmax(scores, *rest, **kw)

        torch.matmul, torch.nn.functional.softmax = first_matmul, final_softmax

    def mixing(module, args, output):
        torch.matmul, torch.nn.functional.softmax = originals["matmul"], originals["softmax"]
        if "scores" not in seen:  # the forward failed: let its error through
            return None
        queries, scores = seen.pop("queries"), seen.pop("scores")
        context = output[0]  # (batch, queries, heads x head_dim)
        batch, length = context.shape[:2]
        plain = context.view(batch, length, queries.shape[1], -1).transpose(1, 2)
        keys, values = _heads(model, target.keys, True), _heads(model, target.values, True)
        prefix_scores = queries @ keys.transpose(-1, -2)  # (batch, heads, queries, prefix)
        plain_norm, prefix_norm = scores.logsumexp(-1, keepdim=True), prefix_scores.logsumexp(-1, keepdim=True)
        total = torch.logaddexp(plain_norm, prefix_norm)
        prefix_out = prefix_scores.softmax(-1) @ values
        mixed = (plain_norm - total).exp() * plain + (prefix_norm - total).exp() * prefix_out
        return (mixed.transpose(1, 2).reshape(batch, length, -1), *output[1:])

    return [
        target.attention.register_forward_pre_hook(reading),
        target.attention.register_forward_hook(mixing, always_call=True),
    ]
