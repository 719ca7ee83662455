"""The linear projections of a plain model, under the suite's canonical site names (``conformance.weights``).

Found through the spec's layout, never through an implementation. A fused qkv projection appears as three sites,
``q``, ``k`` and ``v``, on one module, each with the output features that belong to it:

- ``blocked`` (GPT-2): the output is ``[q; k; v]``, a third each; with ``qkv_sizes="by_heads"`` (StarCoder's
  multi-query ``c_attn``) q has ``num_attention_heads`` heads and k and v ``num_key_value_heads`` each, so the blocks
  are ``heads * head_dim``, ``kv_heads * head_dim``, ``kv_heads * head_dim``;
- ``per_head`` (DeBERTa): the output is ``[q_h, k_h, v_h]`` for each head ``h`` in turn, ``head_dim`` features each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from architectures.live import get_path, layers_of, resolve_layout


ATTENTION_KINDS = ("self_attention", "cross_attention")
MATRICES = ("q", "k", "v")


@dataclass(frozen=True)
class Projection:
    layer: int  # the global layer index (encoder layers first, then the decoder's)
    site: str  # "self_attention.q", "cross_attention.o", "ffn_in", ...
    path: str  # the module's path in the model
    module: torch.nn.Module
    features: torch.Tensor | None  # the module's output features that belong to the site; None: all of them

    @property
    def kind(self) -> str:
        """``self_attention``, ``cross_attention`` or ``ffn``."""
        return self.site.rpartition(".")[0] or "ffn"

    @property
    def matrix(self) -> str:
        """``q``, ``k``, ``v``, ``o``, ``ffn_in`` or ``ffn_out``."""
        return self.site.rpartition(".")[2]


def weight_of(module: torch.nn.Module) -> torch.Tensor:
    """The projection's weight as (out_features, in_features): nn.Linear stores it so, transformers' Conv1D transposed."""
    if isinstance(module, torch.nn.Linear):
        return module.weight
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return module.weight.T
    raise TypeError(f"a LoRA-family site must be nn.Linear or transformers' Conv1D, not {type(module).__name__}")


def out_features(module: torch.nn.Module) -> int:
    return weight_of(module).shape[0]


def fused_features(
    layout: str, matrix: str, features: int, num_heads: int, kv_heads: int | None = None
) -> torch.Tensor:
    """The output features of a fused qkv projection with ``features`` outputs that belong to ``matrix``.

    ``kv_heads``: the key/value heads of a blocked projection whose blocks are sized by heads; None: equal thirds.
    """
    order = MATRICES.index(matrix)
    if kv_heads is not None:
        if layout != "blocked" or features % (num_heads + 2 * kv_heads):
            raise ValueError(
                f"{layout} qkv: {features} features do not split into {num_heads} query and 2 x {kv_heads} "
                "key/value heads of one size"
            )
        head_dim = features // (num_heads + 2 * kv_heads)
        sizes = [num_heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]
        start = sum(sizes[:order])
        return torch.arange(start, start + sizes[order])
    if features % 3:
        raise ValueError(f"a fused qkv projection needs an output size divisible by 3, got {features}")
    size = features // 3
    if layout == "blocked":
        return torch.arange(order * size, (order + 1) * size)
    if layout == "per_head":
        if size % num_heads:
            raise ValueError(f"per_head qkv: {size} features per matrix do not split into {num_heads} heads")
        head_dim = size // num_heads
        return torch.cat(
            [torch.arange((3 * h + order) * head_dim, (3 * h + order + 1) * head_dim) for h in range(num_heads)]
        )
    raise ValueError(f"unknown qkv layout {layout!r}; the specs use 'blocked' and 'per_head'")


def layer_count(model: Any, spec: Any) -> int:
    return sum(len(layers_of(stack, model)) for stack in resolve_layout(spec, model).stacks)


def projections(model: torch.nn.Module, spec: Any) -> Iterator[Projection]:
    """Every projection the LoRA family can adapt, layer by layer: q, k, v, o of each attention, then the FFN's."""
    names = {id(module): name for name, module in model.named_modules()}
    num_heads = spec.config_value(model.config, "num_attention_heads")
    kv_heads = spec.config_value(model.config, "num_key_value_heads", default=None)
    index = 0
    for stack in resolve_layout(spec, model).stacks:
        for layer in layers_of(stack, model):
            for site, path, features in _sites_of_layer(stack, layer, num_heads, kv_heads):
                module = get_path(layer, path)
                yield Projection(index, site, names[id(module)], module, features)
            index += 1


def _sites_of_layer(
    stack: Any, layer: Any, num_heads: int, kv_heads: int | None
) -> Iterator[tuple[str, str, torch.Tensor | None]]:
    """(site, path in the layer, output features of the site or None) for one layer of ``stack``."""
    for kind in ATTENTION_KINDS:
        attention = getattr(stack, kind)
        if attention is None:
            continue
        for matrix in MATRICES:
            if attention.fused:
                size = out_features(get_path(layer, attention.qkv))
                by_heads = kv_heads if attention.qkv_sizes == "by_heads" else None
                if attention.qkv_sizes == "by_heads" and kv_heads is None:
                    raise ValueError(f"qkv_sizes='by_heads' at {attention.qkv}: the config has no num_key_value_heads")
                features = fused_features(attention.qkv_layout, matrix, size, num_heads, by_heads)
                yield f"{kind}.{matrix}", attention.qkv, features
            else:
                yield f"{kind}.{matrix}", getattr(attention, matrix), None
        yield f"{kind}.o", attention.output, None
    yield "ffn_in", stack.ffn_in, None
    yield "ffn_out", stack.ffn_out, None
