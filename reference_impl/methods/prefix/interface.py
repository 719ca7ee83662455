"""Route 1: models that pick their attention function from transformers' registry (``ALL_ATTENTION_FUNCTIONS``).

The model's config is switched to an attention implementation of our own, ``prefix_tuning:<original>``, registered
with the attention and the mask registries. It builds the same masks as the original and calls the original
attention function, with the prefix keys and values in front of the layer's own (after rotary embeddings and the
KV cache, so a cache never holds a prefix), the mask widened, and T5's position bias given zero prefix columns.
Where transformers' eager attention is a default argument rather than a registry entry, the eager function is the
one the attention's ``forward`` names.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from torch import nn

from .binding import Prefix, PrefixBinding, bind, binding_of, first_argument, unbind
from .masks import pad_front, widen_mask


IMPLEMENTATION_PREFIX = "prefix_tuning:"
SUPPORTED = ("eager", "sdpa")


def dispatches(module: nn.Module) -> bool:
    """True when the attention's forward looks its attention function up in transformers' registry."""
    forward = inspect.unwrap(type(module).forward)
    config = getattr(module, "config", None)
    return "ALL_ATTENTION_FUNCTIONS" in forward.__code__.co_names and hasattr(config, "_attn_implementation")


def original_implementation(config: Any) -> str:
    name = config._attn_implementation or "eager"
    return name[len(IMPLEMENTATION_PREFIX) :] if name.startswith(IMPLEMENTATION_PREFIX) else name


@cache
def eager_function(cls: type) -> Callable[..., Any] | None:
    """The eager attention function ``cls.forward`` falls back to (a module-level function it names), or None."""
    forward = inspect.unwrap(cls.forward)
    found = {
        forward.__globals__[name]
        for name in forward.__code__.co_names
        if "eager" in name and callable(forward.__globals__.get(name))
    }
    return found.pop() if len(found) == 1 else None


def check_supported(module: nn.Module) -> str | None:
    """Why prefix tuning cannot use this attention's implementation, or None."""
    original = original_implementation(module.config)
    if original not in SUPPORTED:
        return (
            f"prefix tuning works with the {' and '.join(SUPPORTED)} attention implementations; "
            f"{type(module).__name__} uses {original!r} (load the model with attn_implementation='sdpa')"
        )
    if original == "eager" and eager_function(type(module)) is None:
        return f"cannot tell which eager attention function {type(module).__name__}.forward uses"
    return None


@cache
def registered_name(original: str) -> str:
    """Register (once) and return the implementation name that wraps ``original``."""
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import AttentionInterface

    name = IMPLEMENTATION_PREFIX + original

    def attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *args, **kwargs):
        return attention_with_prefix(original, module, query, key, value, *args, **kwargs)

    AttentionInterface.register(name, attention)
    AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[original])
    return name


def _original_function(original: str, module: nn.Module) -> Callable[..., Any]:
    if original == "eager":
        function = eager_function(type(module))
        if function is None:
            raise RuntimeError(f"cannot tell which eager attention function {type(module).__name__} uses")
        return function
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    return ALL_ATTENTION_FUNCTIONS[original]


def attention_with_prefix(
    original: str,
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    function = _original_function(original, module)
    binding = binding_of(module)
    prefix = binding.prefix(query.shape[0]) if binding is not None else None  # its input: binding.hidden
    if prefix is None:
        return function(module, query, key, value, attention_mask, *args, **kwargs)
    prefix_keys, prefix_values = prefix.keys, prefix.values
    if prefix_keys.shape[1] != key.shape[1] or prefix_keys.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"{binding.location}: the prefix has {prefix_keys.shape[1]} key/value heads of size "
            f"{prefix_keys.shape[-1]}, the attention's keys have {key.shape[1]} of size {key.shape[-1]}"
        )
    length, key_length, query_length = prefix_keys.shape[2], key.shape[2], query.shape[2]
    # sdpa without a mask may still be causal (its is_causal flag); eager without a mask never is
    flag = kwargs.get("is_causal")
    causal = (
        original == "sdpa"
        and attention_mask is None
        and query_length > 1
        and (flag if flag is not None else getattr(module, "is_causal", True))
    )
    attention_mask = widen_mask(
        attention_mask,
        length,
        query_length=query_length,
        key_length=key_length,
        causal_if_none=bool(causal),
        dtype=query.dtype,
        device=query.device,
    )
    if causal and "is_causal" in kwargs:
        kwargs["is_causal"] = False  # the mask now says it
    bias = kwargs.get("position_bias")
    if isinstance(bias, torch.Tensor) and bias.shape[-1] >= key_length:
        kwargs["position_bias"] = pad_front(bias[..., :key_length], length)
    key = torch.cat([prefix_keys.to(key.dtype), key], dim=2)
    value = torch.cat([prefix_values.to(value.dtype), value], dim=2)
    if not prefix.gated:
        return function(module, query, key, value, attention_mask, *args, **kwargs)
    if kwargs.get("scaling") is None:
        kwargs["scaling"] = query.shape[-1] ** -0.5  # the default, fixed before the head size grows
    head_dim = query.shape[-1]
    query, key, value, gates = _gated_blocks(prefix, query, key, value)
    if "scaling" not in inspect.signature(function).parameters:
        # it scales by the head size it sees (4.x GPT-2's eager attention), which the blocks widened: undo that
        query = query * (query.shape[-1] / head_dim) ** 0.5
    output, weights = function(module, query, key, value, attention_mask, *args, **kwargs)
    # output: (batch, queries, heads, blocks x head_dim); block j > 0 holds gated segment j's share
    blocks = output.chunk(len(gates) + 1, dim=-1)
    return blocks[0] + sum(gate[:, :, None] * block for gate, block in zip(gates, blocks[1:], strict=True)), weights


def _gated_blocks(
    prefix: Prefix, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Gated prefix segments through an unchanged attention function, each in a block of head dimensions of its
    own: the segment's keys and values sit in its block (zero elsewhere), the rest in block 0; query token i is q_i
    in block 0 and g_i q_i in the block of a segment with gate g. So a query scores g_i q_i . k_p on the segment
    (its keys scaled per query), and the segment's share of the output comes out in its block, for the caller to
    scale by g_i (its values scaled per query). Returns the widened query, key, value and each block's gate."""
    key_blocks, value_blocks, query_blocks, gates, start = [key], [value], [query], [], 0
    rest = torch.ones(key.shape[2], dtype=key.dtype, device=key.device)  # the columns block 0 keeps
    for gate, length in prefix.gates:
        if gate is not None:
            columns = torch.zeros_like(rest)
            columns[start : start + length] = 1
            rest[start : start + length] = 0
            key_blocks.append(key * columns[:, None])
            value_blocks.append(value * columns[:, None])
            gate = gate.to(query.dtype)  # (batch, queries, 1)
            query_blocks.append(query * gate[:, None])
            gates.append(gate)
        start += length
    key_blocks[0], value_blocks[0] = key * rest[:, None], value * rest[:, None]
    widened = [torch.cat(blocks, dim=-1) for blocks in (query_blocks, key_blocks, value_blocks)]
    return (*widened, gates)


class InterfaceRoute:
    """Installs: the binding, the switched implementation, and (for gates) a hook that sees the attention's input."""

    name = "attention_interface"

    def __init__(self, module: nn.Module, binding: PrefixBinding):
        self.module = module
        self.binding = binding
        self.handles: list[Any] = []
        self.first_parameter = next(iter(inspect.signature(module.forward).parameters))

    def install(self) -> None:
        config = self.module.config
        config._attn_implementation = registered_name(original_implementation(config))
        bind(self.module, self.binding)
        self.binding.route = self
        self.handles = [
            self.module.register_forward_pre_hook(self._see_input, with_kwargs=True),
            self.module.register_forward_hook(self._forget_input, always_call=True),
        ]

    def uninstall(self) -> None:
        for handle in self.handles:
            handle.remove()
        unbind(self.module)
        # the config is restored by the family once no attention that shares it is bound (see routes.sync)

    def _see_input(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.binding.hidden = first_argument(module, args, kwargs, self.first_parameter)
        config = module.config
        if not str(config._attn_implementation).startswith(IMPLEMENTATION_PREFIX):
            # switched since (set_attn_implementation): wrap the new one; the model's masks are made for it already
            problem = check_supported(module)
            if problem is not None:
                raise RuntimeError(f"{self.binding.location}: the attention implementation changed: {problem}")
            config._attn_implementation = registered_name(original_implementation(config))

    def _forget_input(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self.binding.hidden = None


def restore_implementation(config: Any) -> None:
    """Give ``config`` back the attention implementation it had before prefix tuning switched it."""
    name = config._attn_implementation
    if isinstance(name, str) and name.startswith(IMPLEMENTATION_PREFIX):
        config._attn_implementation = original_implementation(config)
