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
  A sliding window (Mistral, Gemma 2) counts the cache's positions and would hide the prefix from later queries:
  there a hook sets the mask's prefix columns to attended for every query, as the definition says.
- separate key and value projections (BERT, RoBERTa, ViT, T5): hooks put the prefix in front of the projections'
  outputs and widen the attention's mask; T5's position bias gets zero columns for the prefix in front of the bias
  the plain model computes for the same input (read off a plain forward pass first).
- a fused qkv projection outside a decoder (DeBERTa): the plain attention runs unchanged; its scaled queries (the
  first operand of its score product) and its final scores (the softmax input) are read off, and its output is
  mixed with the prefix's by the softmax over both: ``O = (Z_t O_t + sum_p exp(s_p) v_p) / (Z_t + sum_p exp(s_p))``
  with ``Z_t`` the plain scores' normaliser and ``s_p = q . k_p``, the scaled query on the prefix keys.

Stacked prefix adapters (``Stack(a, b)``): each attention gets the prefixes of all of them, concatenated in stack
order (as AdapterHub does; with no positions, their order does not change the output).

Gated prefixes (``use_gating``, UniPELT; Mao et al., 2022, as AdapterHub implements them): a gate
``g = sigmoid(x gate_weight^T + gate_bias)`` read off the attention's input ``x`` (its query side) scales the prefix
keys and values: ``K_p' = g K_p``, ``V_p' = g V_p`` (a ``gate_weight`` of two rows: the first scales the keys, the
last the values). AdapterHub averages ``g`` over the sequence; here it is per query token, as the paper writes it and
as the suite defines every UniPELT gate (``conformance.oracles.union``), so a token's gate reads that token only.
A per-query scaling of the prefix keys cannot be put into a cache or a projection's output, so with a gated prefix
the attentions that dispatch through transformers' attention functions run the oracle's own attention
(``_definition_attention``: the formula above, written out); the others (transformers 4.x BERT family, ALBERT,
DistilBERT, T5, GPT-J, ...) get the prefix as an ungated one (a decoder's cache, or in front of the projections) and
the gates inside their own score computation (``_gated_scores``: the prefix columns' scores times g before the
softmax, their probabilities times g after it); a fused qkv attention (DeBERTa) mixes as above, with
``s_p = g q . k_p`` and ``g v_p``. The mixing reads the attention's output as its per-head context, so it refuses
an attention that applies its output projection itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from architectures.live import get_path, layers_of, resolve_layout
from architectures.modality import config_value
from conformance.weights import key

from .base import MethodOracle
from .registry import defines


DEFAULTS = {"prefix_length": 30, "leave_out": (), "encoder_prefix": True, "cross_prefix": True, "use_gating": False}
# Fields that shape only how a prefix is trained or parametrised, not the effective prefix the tensors give
TRAINING_FIELDS = ("config", "bottleneck_size", "non_linearity", "dropout", "flat", "init_weights_seed")
# the masks an attention takes (CLIP in transformers 4.x takes its causal mask apart from the padding mask)
MASK_NAMES = ("attention_mask", "mask", "encoder_attention_mask", "causal_attention_mask")
CROSS_SOURCES = ("key_value_states", "encoder_hidden_states")  # what a cross-attention's keys are computed from
BIAS_NAME = "position_bias"
GATES = ("gate_weight", "gate_bias")


def _option(config: dict[str, Any], name: str) -> Any:
    return config.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class Segment:
    """One adapter's prefix at one attention: keys and values (length x kv_dim), and its gate tensors or None."""

    keys: torch.Tensor
    values: torch.Tensor
    gate: dict[str, torch.Tensor] | None = None


@dataclass(frozen=True)
class Prefixed:
    """One attention of the model: its module, projections and its prefix segments (in stack order; none: ())."""

    layer: int
    kind: str
    attention: torch.nn.Module
    keys_module: torch.nn.Module | None  # None for a fused qkv projection
    values_module: torch.nn.Module | None
    segments: tuple[Segment, ...] = ()
    output_module: torch.nn.Module | None = None  # the attention's output projection

    @property
    def length(self) -> int:
        return sum(segment.keys.shape[0] for segment in self.segments)

    @property
    def keys(self) -> torch.Tensor | None:
        return torch.cat([s.keys for s in self.segments]) if self.segments else None

    @property
    def values(self) -> torch.Tensor | None:
        return torch.cat([s.values for s in self.segments]) if self.segments else None

    @property
    def gated(self) -> bool:
        return any(segment.gate is not None for segment in self.segments)

    def factors(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, queries, length) each: what scales each query's prefix keys and values (1 where ungated)."""
        keys, values = [], []
        for segment in self.segments:
            ones = hidden.new_ones(*hidden.shape[:2], segment.keys.shape[0])
            if segment.gate is None:
                keys.append(ones), values.append(ones)
                continue
            weight, bias = segment.gate["gate_weight"], segment.gate["gate_bias"]
            g = torch.sigmoid(hidden @ weight.T.to(hidden.dtype) + bias.to(hidden.dtype))  # (batch, queries, 1|2)
            keys.append(g[..., :1] * ones), values.append(g[..., -1:] * ones)
        return torch.cat(keys, -1), torch.cat(values, -1)


Member = tuple[dict[str, torch.Tensor], dict[str, Any]]  # (canonical weights, config) of one prefix adapter


def attentions(model: torch.nn.Module, spec: Any, members: list[Member]) -> list[Prefixed]:
    """Every attention of the model, with the prefix segments the members' configs give it (in member order)."""
    found = [dataclasses.replace(a, segments=()) for a in _attentions_of(model, spec, members[0][1])]
    for weights, config in members:
        for at, attention in enumerate(_attentions_of(model, spec, config, weights)):
            found[at] = dataclasses.replace(found[at], segments=found[at].segments + attention.segments)
    return found


def _attentions_of(
    model: torch.nn.Module, spec: Any, config: dict[str, Any], weights: dict[str, torch.Tensor] | None = None
) -> list[Prefixed]:
    """Every attention of the model, with the one segment ``config`` gives it (read from ``weights``) or none."""
    unknown = sorted(set(config) - set(DEFAULTS) - set(TRAINING_FIELDS))
    if unknown:
        raise ValueError(f"the prefix-tuning oracle does not define the field(s) {unknown}")
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
                segments: tuple[Segment, ...] = ()
                if weights is not None and wanted and index not in leave_out:
                    segments = (_segment(weights, index, kind, length, bool(_option(config, "use_gating"))),)
                fused = attention.fused
                found.append(
                    Prefixed(
                        index,
                        kind,
                        get_path(layer, attention.module),
                        None if fused else get_path(layer, attention.k),
                        None if fused else get_path(layer, attention.v),
                        segments,
                        get_path(layer, attention.output),
                    )
                )
            index += 1
    return found


def _segment(weights: dict[str, torch.Tensor], layer: int, kind: str, length: int, gated: bool) -> Segment:
    names = [key(layer, f"{kind}.prefix", t) for t in ("key", "value")]
    if gated:
        names += [key(layer, f"{kind}.prefix", t) for t in GATES]
    missing = [n for n in names if n not in weights]
    if missing:
        raise KeyError(f"the config gives layer {layer}'s {kind} a prefix; the adapter has no {missing}")
    keys, values = (weights[n] for n in names[:2])
    if keys.shape[0] != length or values.shape != keys.shape:
        raise ValueError(
            f"{names}: shapes {tuple(keys.shape)}, {tuple(values.shape)}; the config asks for prefix_length={length}"
        )
    return Segment(keys, values, dict(zip(GATES, (weights[n] for n in names[2:]), strict=True)) if gated else None)


def _heads(config: Any, flat: torch.Tensor, query_heads: bool = False) -> torch.Tensor:
    """(length, heads x head_dim) -> (heads, length, head_dim), with the key/value heads (or the query heads)."""
    heads = config_value(config, "num_attention_heads")  # through the sub-configs of a composite config
    if not query_heads:
        heads = config_value(config, "num_key_value_heads", default=None) or heads
    return flat.view(flat.shape[0], heads, -1).transpose(0, 1)


def _kv_dim(model: torch.nn.Module) -> int:
    config = model.config
    query_heads = config_value(config, "num_attention_heads")
    heads = config_value(config, "num_key_value_heads", default=None) or query_heads
    head_dim = config_value(config, "head_dim", default=None) or config_value(config, "hidden_size") // query_heads
    return heads * head_dim


def _windowed(model: torch.nn.Module) -> bool:
    """Whether the model's masks have a sliding window: it counts the cache's positions, so the prefix in the cache
    would fall out of a query's window, which the definition (the prefix has no position) does not allow."""
    return getattr(model.config, "sliding_window", None) is not None


def _prefix_columns(attention: Prefixed, prefix: int) -> Any:
    """A pre-hook on a decoder attention that sets its mask's ``prefix`` cache columns as the definition says:
    every query attends the attention's own prefix (no window hides it), and not the placeholder columns in front
    of it when its prefix is shorter than the cache's (none: left out)."""
    signature = inspect.signature(attention.attention.forward)
    hidden_columns = prefix - attention.length

    def set_columns(module, args, kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        mask = bound.arguments.get("attention_mask")
        if not isinstance(mask, torch.Tensor) or mask.dim() != 4:
            raise NotImplementedError("the decoder prefix oracle needs a 4-d attention mask to set the prefix columns")
        # -inf, not the mask's own minimum: a query that sees no token (left padding) spreads its weight evenly
        # over the columns its mask gives that minimum, and a placeholder must not be one of them
        hidden = False if mask.dtype == torch.bool else float("-inf")
        placeholders = mask[..., :hidden_columns].clone().fill_(hidden)
        own = mask[..., hidden_columns:prefix].clone().fill_(_attend(mask))
        bound.arguments["attention_mask"] = torch.cat([placeholders, own, mask[..., prefix:]], -1)
        return bound.args, bound.kwargs

    return attention.attention.register_forward_pre_hook(set_columns, with_kwargs=True)


def _pad_front(tensor: torch.Tensor, length: int, value: float | bool | int) -> torch.Tensor:
    return torch.cat([tensor.new_full((*tensor.shape[:-1], length), value), tensor], dim=-1)


def _attend(mask: torch.Tensor) -> float | bool | int:
    """The mask entry that lets a query attend: True (boolean), 0 (additive float), 1 (0/1 integer)."""
    return True if mask.dtype == torch.bool else (0.0 if mask.is_floating_point() else 1)


def _cache_argument(model: torch.nn.Module) -> str:
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"  # transformers 5.x renames past_key_values


def prepare_inputs(model: torch.nn.Module, spec: Any, members: list[Member], inputs: dict[str, Any]) -> dict:
    """The plain model's inputs for the prefixes of ``members`` (several: a Stack of them)."""
    every = attentions(model, spec, members)
    if spec.modality != "decoder" or _runs_definition(every):
        return {**inputs, "use_cache": False} if spec.is_encoder_decoder or spec.modality == "decoder" else inputs
    from transformers import DynamicCache

    ids = inputs["input_ids"]
    batch, length = ids.shape
    prefix = max(attention.length for attention in every)
    cache = DynamicCache()
    for attention in every:  # a shorter prefix gets placeholders in front that its own mask hides (see hooks)
        flat = [torch.zeros(prefix - attention.length, _kv_dim(model))] * 2
        if attention.segments:
            flat = [torch.cat([flat[0], attention.keys]), torch.cat([flat[1], attention.values])]
        keys, values = (_heads(model.config, t).unsqueeze(0).expand(batch, -1, -1, -1) for t in flat)
        cache.update(keys, values, attention.layer)
    mask = inputs.get("attention_mask")
    mask = torch.ones(batch, length, dtype=torch.long) if mask is None else mask
    own = _plain_positions(model, spec, inputs)  # read before the inputs get the cache and the wider mask
    inputs[_cache_argument(model)] = cache
    inputs["attention_mask"] = _pad_front(mask, prefix, 1)
    inputs["position_ids"] = torch.arange(length).expand(batch, -1) if own is None else own
    return inputs


@torch.no_grad()
def _plain_positions(model: torch.nn.Module, spec: Any, inputs: dict[str, Any]) -> torch.Tensor | None:
    """The tokens' own positions: the position ids the plain model hands its first layer for ``inputs`` (None when
    its layers take none). Most decoders count 0, 1, ... whatever the mask; OPT counts the attended tokens only
    (a left-padded example's first real token is at 0), so the prefix must not shift them either way."""
    first = layers_of(resolve_layout(spec, model).stacks[0], model)[0]
    found: list[Any] = []
    handle = first.register_forward_pre_hook(lambda m, a, kw: found.append(kw.get("position_ids")), with_kwargs=True)
    try:
        model(**inputs)
    finally:
        handle.remove()
    return found[0] if found and isinstance(found[0], torch.Tensor) else None


@contextlib.contextmanager
def hooks(model: torch.nn.Module, spec: Any, members: list[Member], inputs: dict[str, Any]) -> Iterator[None]:
    """The oracle's hooks for the prefixes of ``members``, in force around the forward pass."""
    every = attentions(model, spec, members)
    targets = [attention for attention in every if attention.segments]
    gated = any(a.gated for a in every)
    handles: list[Any] = []
    try:
        if spec.modality == "decoder" and not _runs_definition(every):
            prefix = max(attention.length for attention in every)
            windowed = _windowed(model)
            handles.extend(_prefix_columns(a, prefix) for a in every if windowed or a.length < prefix)
            if gated:  # the cache holds the prefix; the attention's own scores get the gates
                for target in targets:
                    handles.extend(_gated_scores(target, prefix - target.length, widened=False))
        elif spec.modality == "decoder":
            for target in targets:
                handles.extend(_defined(target))
        else:
            own = [t for t in targets if t.keys_module is not None and not (gated and _dispatches(t.attention))]
            biases = _plain_position_biases(model, own, inputs)
            for target in targets:
                if _dispatches(target.attention) and (gated or target.keys_module is None):
                    handles.extend(_defined(target))  # gated, or a fused qkv (ModernBERT): its factors are ones
                elif target.keys_module is None:
                    handles.extend(_mixed_with_prefix(model, target))
                else:
                    if gated:  # first: its pre-hook reads the attention's input before the placeholders widen it
                        handles.extend(_gated_scores(target, 0, widened=target.kind == "self_attention"))
                    handles.extend(_prefix_in_front(target, biases.get(target.attention)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _runs_definition(every: list[Prefixed]) -> bool:
    """Whether a decoder's gated prefixes run the oracle's own attention function (``_defined``): its attentions
    dispatch through transformers' attention functions. Otherwise (4.x GPT-J) its prefix is the key/value cache and
    its attentions' own scores get the gates (``_gated_scores``)."""
    targets = [a for a in every if a.segments]
    if not any(a.gated for a in every):
        return False
    dispatching = {_dispatches(a.attention) for a in targets}
    if len(dispatching) > 1:
        raise NotImplementedError("the gated-prefix oracle does not cover a decoder whose attentions dispatch in part")
    return dispatching == {True}


@defines("prefix_tuning")
class PrefixTuningOracle(MethodOracle):
    def prepare_inputs(self, model, spec, weights, config, inputs):
        return prepare_inputs(model, spec, [(weights, config)], inputs)

    def hooks(self, model, spec, weights, config, inputs):
        return hooks(model, spec, [(weights, config)], inputs)


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


# ----- gated prefixes: the oracle's own attention function -----
DEFINITION = "conformance_oracle_prefix"
_RUNNING: dict[torch.nn.Module, dict[str, Any]] = {}  # attention module -> its prefix and input, during a forward


def _definition_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """``softmax([g q K_p^T s, q K^T s + bias + mask]) @ [g V_p; V]`` for the attention of ``module`` (an
    attention without a prefix: the same with none). Shapes as transformers' attention functions have them."""
    running = _RUNNING.get(module)
    heads, length = query.shape[1], query.shape[2]
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling

    def per_query_head(t: torch.Tensor) -> torch.Tensor:  # key/value heads shared by query heads, in order
        return t.repeat_interleave(heads // t.shape[-3], dim=-3)

    scores = query @ per_query_head(key).transpose(-1, -2) * scaling
    bias = kwargs.get(BIAS_NAME)
    if bias is not None:
        scores = scores + bias[..., -scores.shape[-1] :]
    if attention_mask is not None:
        mask = attention_mask[..., -scores.shape[-1] :]
        scores = (
            scores.masked_fill(~mask, torch.finfo(scores.dtype).min) if mask.dtype == torch.bool else scores + mask
        )
    elif getattr(module, "is_causal", False) and length > 1:
        future = torch.ones(length, scores.shape[-1], dtype=torch.bool).triu(scores.shape[-1] - length + 1)
        scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
    if running is None:
        return (scores.softmax(-1) @ per_query_head(value)).transpose(1, 2).contiguous(), None
    target: Prefixed = running["target"]
    running["called"] = True
    key_factor, value_factor = (f[:, None] for f in target.factors(running["hidden"]))  # (batch, 1, queries, P)
    prefix_keys = per_query_head(_heads(module.config, target.keys).to(query.dtype))
    prefix_values = per_query_head(_heads(module.config, target.values).to(query.dtype))
    prefix_scores = query @ prefix_keys.transpose(-1, -2) * scaling * key_factor
    probabilities = torch.cat([prefix_scores, scores], -1).softmax(-1)
    count = target.length
    output = (probabilities[..., :count] * value_factor) @ prefix_values
    output = output + probabilities[..., count:] @ per_query_head(value)
    return output.transpose(1, 2).contiguous(), probabilities


def _register_definition() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(DEFINITION, _definition_attention)
    AttentionMaskInterface.register(DEFINITION, ALL_MASK_ATTENTION_FUNCTIONS["eager"])


def _dispatches(attention: torch.nn.Module) -> bool:
    """Whether the attention's forward looks its attention function up in transformers' registry."""
    try:
        return "ALL_ATTENTION_FUNCTIONS" in inspect.getsource(type(attention).forward)
    except (OSError, TypeError):
        return False


def _defined(target: Prefixed) -> list[Any]:
    """Hooks that make ``target``'s attention run ``_definition_attention`` with its prefix and its input."""
    module = target.attention
    config = getattr(module, "config", None)
    if config is None:
        raise NotImplementedError(f"{type(module).__name__} has no config: the gated-prefix oracle cannot reach it")
    _register_definition()
    original = config._attn_implementation
    first = next(iter(inspect.signature(module.forward).parameters))

    def start(mod, args, kwargs):
        _RUNNING[mod] = {"target": target, "hidden": args[0] if args else kwargs[first], "called": False}

    def finish(mod, args, output):
        running = _RUNNING.pop(mod, None)
        if running is not None and not running["called"]:
            raise NotImplementedError(
                f"{type(mod).__name__} does not dispatch through transformers' attention functions: the gated-prefix "
                "oracle cannot give it its prefix"
            )

    config._attn_implementation = DEFINITION  # shared by the model: its masks are made for the definition too
    handles = [
        module.register_forward_pre_hook(start, with_kwargs=True),
        module.register_forward_hook(finish, always_call=True),
    ]

    if original == DEFINITION:  # another target of the same config switched it and restores it
        return handles

    class Restore:
        def remove(self) -> None:
            config._attn_implementation = original

    return [*handles, Restore()]


def _pad_positions(tensor: torch.Tensor, length: int, value: float | bool | int, queries: bool) -> torch.Tensor:
    """A 4-d mask or bias (batch, heads, queries, keys) with ``length`` positions in front of its keys (and of its
    queries where ``queries`` and it has more than one); a 2-d padding mask (batch, keys: 4.x DistilBERT's eager
    attention) with ``length`` in front of its keys."""
    if tensor.dim() == 2:  # 1 or True where it attends, whatever its dtype
        return _pad_front(tensor, length, True if tensor.dtype == torch.bool else 1)
    if tensor.dim() != 4:
        raise NotImplementedError(
            f"the prefix oracle widens 2-d and 4-d attention masks and 4-d biases; got {tensor.dim()}-d"
        )
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
    own_bias = BIAS_NAME not in signature.parameters and hasattr(target.attention, "compute_bias")

    def placeholders(states: torch.Tensor) -> torch.Tensor:
        return torch.cat([states.new_zeros(states.shape[0], length, *states.shape[2:]), states], dim=1)

    def widen(module, args, kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        arguments = bound.arguments
        if cross:
            source = next(n for n in CROSS_SOURCES if isinstance(arguments.get(n), torch.Tensor))
            arguments[source] = placeholders(arguments[source])
        else:
            hidden = arguments[hidden_name]
            widened = placeholders(hidden)
            for name, value in list(arguments.items()):  # 4.x DistilBERT takes the states as query, key and value
                if value is hidden:
                    arguments[name] = widened
        for name in MASK_NAMES:
            if isinstance(arguments.get(name), torch.Tensor):
                arguments[name] = _pad_positions(arguments[name], length, _attend(arguments[name]), not cross)
        if bias is not None:
            arguments[BIAS_NAME] = _pad_positions(bias, length, 0.0, not cross)
        elif (
            own_bias
        ):  # UMT5: every layer computes its bias from the (placeholder-widened) lengths; zero on the prefix
            compute = module.compute_bias

            def compute_without_prefix(*a, **kw) -> torch.Tensor:
                computed = compute(*a, **kw).clone()
                computed[..., :length] = 0.0
                return computed

            module.compute_bias = compute_without_prefix
            positions = arguments.get("cache_position")
            if not cross and isinstance(positions, torch.Tensor):  # 4.x UMT5 reads its queries' positions there
                arguments["cache_position"] = torch.cat(
                    [torch.arange(length, device=positions.device), positions + length]
                )
        return bound.args, bound.kwargs

    def prefix_there(prefix: torch.Tensor):
        def hook(module, args, output):
            batch = output.shape[0]
            return torch.cat([prefix.to(output.dtype).expand(batch, -1, -1), output[:, length:]], dim=1)

        return hook

    def cut_placeholders(module, args, output):
        module.__dict__.pop("compute_bias", None)
        return None if cross else (output[0][:, length:], *output[1:])

    return [
        target.attention.register_forward_pre_hook(widen, with_kwargs=True),
        target.keys_module.register_forward_hook(prefix_there(target.keys)),
        target.values_module.register_forward_hook(prefix_there(target.values)),
        target.attention.register_forward_hook(cut_placeholders),
    ]


def _gated_scores(target: Prefixed, start: int, widened: bool) -> list[Any]:
    """Hooks that gate the prefix inside the attention's own score computation: its scores on the prefix columns
    ``start .. start + length`` are multiplied by each query's key gate before its softmax, and the softmax's
    probabilities there by the value gate after it: ``softmax([g s_p, s]) @ [V_p; V]`` with ``g V_p`` for the
    prefix, which is the definition's ``g K_p``, ``g V_p`` (the score ``s_p`` of a prefix column is the attention's
    own scaled ``q . k_p``: the oracle's mask and bias are zero there). The attention must compute its
    probabilities with one call of ``torch.nn.functional.softmax`` or ``scaled_dot_product_attention`` (written out
    here, as torch defines it). ``widened``: the placeholders of ``_prefix_in_front`` precede the queries."""
    functional = torch.nn.functional
    first = next(iter(inspect.signature(target.attention.forward).parameters))
    columns = slice(start, start + target.length)
    state: dict[str, Any] = {}

    def gate_scores(scores: torch.Tensor) -> torch.Tensor:
        keys = state["keys"]
        if scores.dim() != 4 or scores.shape[-2] != keys.shape[-2] or scores.shape[-1] < columns.stop:
            raise NotImplementedError(
                f"the gated-prefix oracle found scores of shape {tuple(scores.shape)} in "
                f"{type(target.attention).__name__}; it gates (batch, heads, {keys.shape[-2]}, >= {columns.stop})"
            )
        gated = scores.clone()
        gated[..., columns] = scores[..., columns] * keys.to(scores.dtype)
        return gated

    def gate_probabilities(probabilities: torch.Tensor) -> torch.Tensor:
        gated = probabilities.clone()
        gated[..., columns] = probabilities[..., columns] * state["values"].to(probabilities.dtype)
        return gated

    def softmax(scores, dim=None, *rest, **kwargs):
        if dim not in (-1, scores.dim() - 1):
            raise NotImplementedError(f"the gated-prefix oracle gates a softmax over the keys, not dim={dim}")
        state["calls"] += 1
        return gate_probabilities(state["softmax"](gate_scores(scores), dim, *rest, **kwargs))

    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if dropout_p:
            raise NotImplementedError("the gated-prefix oracle runs attention without dropout")
        state["calls"] += 1
        key, value = (t.repeat_interleave(query.shape[-3] // t.shape[-3], dim=-3) for t in (key, value))
        scores = query @ key.transpose(-2, -1) * (query.shape[-1] ** -0.5 if scale is None else scale)
        if is_causal:  # torch aligns it to the top left
            scores = scores.masked_fill(~scores.new_ones(scores.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
        if attn_mask is not None:
            scores = (
                scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
            )
        return gate_probabilities(state["softmax"](gate_scores(scores), -1)) @ value

    def begin(module, args, kwargs):
        keys, values = target.factors(args[0] if args else kwargs[first])  # (batch, queries, length) each
        if widened:
            keys, values = (_pad_front(t.transpose(1, 2), target.length, 1.0).transpose(1, 2) for t in (keys, values))
        state.update(keys=keys[:, None], values=values[:, None], calls=0)
        state.update(softmax=functional.softmax, sdpa=functional.scaled_dot_product_attention)
        functional.softmax, functional.scaled_dot_product_attention = softmax, attention

    def end(module, args, output):
        functional.softmax, functional.scaled_dot_product_attention = state["softmax"], state["sdpa"]
        if output is not None and state["calls"] != 1:  # never drop a gate silently
            raise NotImplementedError(
                f"{type(module).__name__} computed {state['calls']} softmax / scaled_dot_product_attention calls; the "
                "gated-prefix oracle gates the one that gives the attention probabilities"
            )

    return [
        target.attention.register_forward_pre_hook(begin, with_kwargs=True),
        target.attention.register_forward_hook(end, always_call=True),
    ]


def _mixed_with_prefix(model: torch.nn.Module, target: Prefixed) -> list[Any]:
    """Hooks that read the plain attention's scaled queries and scores, and mix its output with the prefix's."""
    if getattr(target.attention, "head_logits_proj", None) is not None:
        raise NotImplementedError("the prefix oracle does not cover talking-heads attention (head_logits_proj)")
    if any(module is target.output_module for module in target.attention.modules()):
        raise NotImplementedError(
            f"{type(target.attention).__name__} applies its output projection itself: the prefix oracle mixes the "
            "attention's per-head context, not the projected output"
        )
    seen: dict[str, torch.Tensor] = {}
    originals: dict[str, Any] = {}

    def reading(module, args, kwargs):
        seen["hidden"] = args[0] if args else next(iter(kwargs.values()))  # the attention's input, for gates
        matmul, softmax = torch.matmul, torch.nn.functional.softmax
        originals.update(matmul=matmul, softmax=softmax)

        def first_matmul(a, b, *rest, **kw):
            seen.setdefault("queries", a)  # the first product is the scores: scaled queries times keys
            return matmul(a, b, *rest, **kw)

        def final_softmax(scores, *rest, **kw):
            seen["scores"] = scores
            return softmax(scores, *rest, **kw)

        torch.matmul, torch.nn.functional.softmax = first_matmul, final_softmax
        return args, kwargs

    def mixing(module, args, output):
        torch.matmul, torch.nn.functional.softmax = originals["matmul"], originals["softmax"]
        if output is None:  # the forward failed: let its error through
            return None
        if "scores" not in seen:  # never drop the prefix silently
            raise NotImplementedError(
                f"the prefix oracle read no attention scores from {type(module).__name__} (it computes them without "
                "torch.matmul and softmax): it cannot mix the prefix into this attention"
            )
        queries, scores = seen.pop("queries"), seen.pop("scores")
        context = output[0]  # (batch, queries, heads x head_dim)
        batch, length = context.shape[:2]
        plain = context.view(batch, length, queries.shape[1], -1).transpose(1, 2)
        keys, values = _heads(model.config, target.keys, True), _heads(model.config, target.values, True)
        key_factor, value_factor = (f[:, None] for f in target.factors(seen.pop("hidden")))  # gates, or ones
        prefix_scores = queries @ keys.transpose(-1, -2) * key_factor  # (batch, heads, queries, prefix)
        plain_norm, prefix_norm = scores.logsumexp(-1, keepdim=True), prefix_scores.logsumexp(-1, keepdim=True)
        total = torch.logaddexp(plain_norm, prefix_norm)
        prefix_out = (prefix_scores.softmax(-1) * value_factor) @ values
        mixed = (plain_norm - total).exp() * plain + (prefix_norm - total).exp() * prefix_out
        return (mixed.transpose(1, 2).reshape(batch, length, -1), *output[1:])

    return [
        target.attention.register_forward_pre_hook(reading, with_kwargs=True),
        target.attention.register_forward_hook(mixing, always_call=True),
    ]
