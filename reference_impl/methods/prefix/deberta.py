"""Route 3: DeBERTa's disentangled attention, which neither dispatches through transformers' attention registry nor
has separate key/value projections, and adds relative-position scores that exist between the sequence's tokens only.

Its attention module's class is swapped for a subclass whose forward is transformers' own, copied with the prefix
inserted (fenced below); with no prefix active the original forward runs unchanged. Written against
``DisentangledSelfAttention.forward`` of transformers 4.57.6, 5.0.0 and 5.24.0 (identical logic in all three);
``architectures.versions.DEBERTA_ATTENTION_SOURCES`` records the fingerprint of that source, and installing the route
fails (``UpstreamChanged``, naming the first differing line) when the installed transformers' source differs.
"""

from __future__ import annotations

import sys
from functools import cache

import torch
from torch import nn

from architectures.versions import DEBERTA_ATTENTION_SOURCES

from .binding import PrefixBinding, bind, binding_of, unbind
from .masks import pad_front
from .upstream import UpstreamSource, check_copy


ROUTED_CLASSES = ("transformers.models.deberta.modeling_deberta.DisentangledSelfAttention",)


def handles(module: nn.Module) -> bool:
    return any(f"{cls.__module__}.{cls.__qualname__}" in ROUTED_CLASSES for cls in type(module).__mro__)


def _forward_with_prefix(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor,
    output_attentions: bool = False,
    query_states: torch.Tensor | None = None,
    relative_pos: torch.Tensor | None = None,
    rel_embeddings: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    original = type(self).__prefix_original__
    binding = binding_of(self)
    prefix = binding.prefix(hidden_states.shape[0], hidden_states) if binding is not None else None
    if prefix is None:
        return original.forward(
            self, hidden_states, attention_mask, output_attentions, query_states, relative_pos, rel_embeddings
        )
    scaled_size_sqrt = sys.modules[original.__module__].scaled_size_sqrt

    # Copied from transformers' DisentangledSelfAttention.forward (4.57.6 - 5.24.0); changes are fenced.
    if query_states is None:
        qp = self.in_proj(hidden_states)  # .split(self.all_head_size, dim=-1)
        query_layer, key_layer, value_layer = self.transpose_for_scores(qp).chunk(3, dim=-1)
    else:
        ws = self.in_proj.weight.chunk(self.num_attention_heads * 3, dim=0)
        qkvw = [torch.cat([ws[i * 3 + k] for i in range(self.num_attention_heads)], dim=0) for k in range(3)]
        q = torch.matmul(qkvw[0], query_states.t().to(dtype=qkvw[0].dtype))
        k = torch.matmul(qkvw[1], hidden_states.t().to(dtype=qkvw[1].dtype))
        v = torch.matmul(qkvw[2], hidden_states.t().to(dtype=qkvw[2].dtype))
        query_layer, key_layer, value_layer = [self.transpose_for_scores(x) for x in [q, k, v]]

    query_layer = query_layer + self.transpose_for_scores(self.q_bias[None, None, :])
    value_layer = value_layer + self.transpose_for_scores(self.v_bias[None, None, :])

    # >>> adapter change: the prefix keys and values go in front of the sequence's own
    prefix_keys, prefix_values, prefix_length = prefix.keys, prefix.values, prefix.length
    content_keys = key_layer
    key_layer = torch.cat([prefix_keys.to(key_layer.dtype), key_layer], dim=2)
    value_layer = torch.cat([prefix_values.to(value_layer.dtype), value_layer], dim=2)
    # <<< adapter change

    rel_att: int = 0
    # Take the dot product between "query" and "key" to get the raw attention scores.
    scale_factor = 1 + len(self.pos_att_type)
    scale = scaled_size_sqrt(query_layer, scale_factor)
    query_layer = query_layer / scale.to(dtype=query_layer.dtype)
    attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))

    if self.relative_attention and rel_embeddings is not None and relative_pos is not None:
        rel_embeddings = self.pos_dropout(rel_embeddings)
        # >>> adapter change: relative positions exist between the sequence's tokens; prefix columns get no score
        rel_att = self.disentangled_att_bias(query_layer, content_keys, relative_pos, rel_embeddings, scale_factor)
        rel_att = pad_front(rel_att, prefix_length)
        # <<< adapter change

    if rel_att is not None:
        attention_scores = attention_scores + rel_att

    # bxhxlxd
    if self.head_logits_proj is not None:
        attention_scores = self.head_logits_proj(attention_scores.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    # >>> adapter change: every query may attend every prefix position (a gated prefix: scaled by the gate)
    attention_mask = pad_front(attention_mask, prefix_length, 1)
    factors = prefix.factors(attention_scores.dtype)  # a gated prefix: its keys scaled per query
    if factors is not None:
        gated = attention_scores[..., :prefix_length] * factors[:, None]
        attention_scores = torch.cat([gated, attention_scores[..., prefix_length:]], dim=-1)
    # <<< adapter change
    attention_mask = attention_mask.bool()
    attention_scores = attention_scores.masked_fill(~(attention_mask), torch.finfo(query_layer.dtype).min)
    # bsz x height x length x dimension
    attention_probs = nn.functional.softmax(attention_scores, dim=-1)

    attention_probs = self.dropout(attention_probs)
    # >>> adapter change: a gated prefix's values scaled per query, as its keys are
    if factors is not None:
        gated = attention_probs[..., :prefix_length] * factors[:, None]
        attention_probs = torch.cat([gated, attention_probs[..., prefix_length:]], dim=-1)
    # <<< adapter change
    if self.head_weights_proj is not None:
        attention_probs = self.head_weights_proj(attention_probs.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    context_layer = torch.matmul(attention_probs, value_layer)
    context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
    new_context_layer_shape = context_layer.size()[:-2] + (-1,)
    context_layer = context_layer.view(new_context_layer_shape)
    if not output_attentions:
        return (context_layer, None)
    return (context_layer, attention_probs)


SOURCES = tuple(
    UpstreamSource(s["function"], tuple(s["versions"]), s["sha256"], tuple(s["statements"]))
    for s in DEBERTA_ATTENTION_SOURCES
)


@cache
def check_upstream(cls: type) -> None:
    """The attention class's forward must be the source the copy above was made from (see ``upstream``)."""
    upstream = next(c for c in cls.__mro__ if f"{c.__module__}.{c.__qualname__}" in ROUTED_CLASSES)
    check_copy(
        upstream.forward, SOURCES, "prefix tuning's DeBERTa attention (reference_impl/methods/prefix/deberta.py)"
    )


@cache
def _prefix_class(cls: type) -> type:
    return type(cls.__name__, (cls,), {"forward": _forward_with_prefix, "__prefix_original__": cls})


class DebertaRoute:
    name = "deberta_attention"

    def __init__(self, module: nn.Module, binding: PrefixBinding):
        self.module = module
        self.binding = binding

    def install(self) -> None:
        check_upstream(type(self.module))
        bind(self.module, self.binding)
        self.binding.route = self
        self.module.__class__ = _prefix_class(type(self.module))

    def uninstall(self) -> None:
        self.module.__class__ = type(self.module).__prefix_original__
        unbind(self.module)
