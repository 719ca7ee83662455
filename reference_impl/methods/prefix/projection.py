"""Route 2: attention modules that compute attention in their own forward (BERT and T5 on transformers 4.57,
T5 on 5.0), with separate key and value projections. Hooks only, no copied forward:

- a forward pre-hook on the attention widens its mask (and T5's position bias) by the prefix columns and arms:
  - without a KV cache: forward hooks on the key and value projections that put the prefix in front of their
    output (registered for this call only, so they run after any other adapter on those projections);
  - with a KV cache (decoder self-attention): a wrapper of the cache's ``update`` that puts the prefix in front of
    the keys and values it returns, so the cache itself never holds a prefix and positions stay right;
  - a cross-attention's cache keeps the prefix the projections gave it on the first step;
- an attention that takes its keys' and values' source as inputs of their own and sizes its mask by them (4.x
  DistilBERT) gets zero placeholders in front of them, which the projections' hooks replace by the prefix;
- an attention that rotates its keys after projecting them (4.x GPT-J) gets a cache of its own for a call without
  one, so that the prefix joins the keys after the rotation, as with a cache;
- T5 computes its relative position bias inside the first layer from the key length: a wrapper of ``compute_bias``
  computes it for the sequence's own keys and adds zero prefix columns;
- a forward hook (always run) removes everything armed, and strips the prefix columns from the position bias T5
  hands on to the next layer.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .binding import PrefixBinding, bind, unbind
from .masks import pad_front, widen_mask


MASK_NAMES = ("attention_mask", "mask")
CACHE_NAMES = ("past_key_values", "past_key_value", "cache", "layer_past")
BIAS_NAME = "position_bias"
CROSS_SOURCES = ("key_value_states", "encoder_hidden_states")  # what a cross-attention's keys come from


def _first(parameters: Any, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in parameters), None)


def _self_attention_cache(cache: Any) -> Any:
    return getattr(cache, "self_attention_cache", cache)


class ProjectionRoute:
    name = "projection_hooks"

    def __init__(self, module: nn.Module, binding: PrefixBinding, keys: nn.Module, values: nn.Module, causal: bool):
        self.module = module
        self.binding = binding
        self.projections = (keys, values)
        self.cross = binding.kind == "cross_attention"
        self.causal = causal and not self.cross
        self.signature = inspect.signature(module.forward)
        parameters = self.signature.parameters
        self.hidden_name = next(iter(parameters))
        self.mask_name = _first(parameters, MASK_NAMES)
        self.cache_name = _first(parameters, CACHE_NAMES)
        self.has_bias = BIAS_NAME in parameters
        self.source_names = (
            tuple(n for n in ("key", "value") if n in parameters) if self.hidden_name == "query" else ()
        )
        forward = inspect.unwrap(type(module).forward)
        self.rotates_keys = any("rotary" in name for name in forward.__code__.co_names)
        self.handles: list[Any] = []
        self._armed: list[Any] = []  # undo actions of the running forward
        self._strip = 0  # prefix columns to strip from the position bias handed on

    def install(self) -> None:
        bind(self.module, self.binding)
        self.binding.route = self
        self.handles = [
            self.module.register_forward_pre_hook(self._before, with_kwargs=True),
            self.module.register_forward_hook(self._after, always_call=True),
        ]

    def uninstall(self) -> None:
        for handle in self.handles:
            handle.remove()
        unbind(self.module)

    # ----- one forward pass -----
    def _before(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._disarm()
        bound = self.signature.bind_partial(*args, **kwargs)
        arguments = bound.arguments
        hidden = arguments.get(self.hidden_name)
        self.binding.hidden = hidden
        prefix = self.binding.prefix(hidden.shape[0], hidden)
        if prefix is None:
            return None
        if prefix.gated:  # a gate scales the prefix keys per query token: not expressible in a projection's output
            raise NotImplementedError(
                f"{self.binding.location}: a gated prefix (use_gating) needs an attention that dispatches through "
                "transformers' attention functions (or DeBERTa's); this one computes attention itself"
            )
        keys, values, length, query_length = prefix.keys, prefix.values, prefix.length, hidden.shape[1]

        cache = arguments.get(self.cache_name) if self.cache_name else None
        layer = getattr(module, "layer_idx", None)
        if cache is None and self.rotates_keys and self.causal and self.cache_name and layer is not None:
            from transformers import DynamicCache

            cache = arguments[self.cache_name] = DynamicCache()  # this call's only: dropped with its arguments
        self_cache = _self_attention_cache(cache) if cache is not None and not self.cross else None
        if self_cache is not None and layer is None:
            raise RuntimeError(f"{self.binding.location}: a KV cache is in use but the attention has no layer_idx")
        if self.cross:
            key_length = self._cross_length(arguments, cache, layer, length)
        else:
            key_length = (self_cache.get_seq_length(layer) if self_cache is not None else 0) + query_length

        if self.mask_name:
            arguments[self.mask_name] = widen_mask(
                arguments.get(self.mask_name),
                length,
                query_length=query_length,
                key_length=key_length,
                causal_if_none=self.causal and query_length > 1,
                dtype=hidden.dtype,
                device=hidden.device,
                padding_2d=bool(self.source_names),
            )
        if self.has_bias:
            self._widen_position_bias(module, arguments, length)
        elif hasattr(module, "compute_bias"):  # 4.x UMT5: every layer computes its bias from the key length
            self._wrap_compute_bias(module, length)
        if self_cache is not None:
            self._wrap_cache_update(self_cache, layer, keys, values)
        else:
            replace = (
                bool(self.source_names)
                and not self.cross
                and all(isinstance(arguments.get(n), torch.Tensor) for n in self.source_names)
            )
            if replace:  # zero placeholders where the key and value sources begin; the hooks put the prefix there
                for name in self.source_names:
                    arguments[name] = pad_front(arguments[name].transpose(1, 2), length).transpose(1, 2)
            self._hook_projections(keys, values, replace=replace)
        return bound.args, bound.kwargs

    def _after(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        strip, self._strip = self._strip, 0
        self._disarm()
        self.binding.hidden = None
        if strip and isinstance(output, tuple) and len(output) > 1 and isinstance(output[1], torch.Tensor):
            return (output[0], output[1][..., strip:], *output[2:])
        return None

    def _disarm(self) -> None:
        while self._armed:
            self._armed.pop()()

    @staticmethod
    def _cross_length(arguments: dict[str, Any], cache: Any, layer: int | None, length: int) -> int | None:
        """How many keys a cross-attention has without the prefix: its source's length, or what its cache holds."""
        source = next((arguments.get(n) for n in CROSS_SOURCES if isinstance(arguments.get(n), torch.Tensor)), None)
        if source is None:
            return None
        updated = getattr(cache, "is_updated", {})
        if layer is not None and updated.get(layer):  # the cache holds the keys of the first step, prefix included
            return cache.cross_attention_cache.get_seq_length(layer) - length
        return source.shape[1]

    # ----- what a pass arms -----
    def _hook_projections(self, keys: torch.Tensor, values: torch.Tensor, replace: bool = False) -> None:
        """Put the prefix in front of the projections' outputs, or in place of the placeholders there (``replace``)."""
        for projection, prefix in zip(self.projections, (keys, values), strict=True):
            flat = prefix.transpose(1, 2).flatten(2)  # (batch, prefix, heads * head_dim): the projection's layout
            skip = flat.shape[1] if replace else 0

            def put_in_front(
                module: nn.Module, args: Any, output: torch.Tensor, flat: torch.Tensor = flat, skip: int = skip
            ) -> Any:
                return torch.cat([flat.to(output.dtype), output[:, skip:]], dim=1)

            self._armed.append(projection.register_forward_hook(put_in_front).remove)

    def _wrap_cache_update(self, cache: Any, layer: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        update = cache.update

        def update_with_prefix(key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *a, **kw):
            all_keys, all_values = update(key_states, value_states, layer_idx, *a, **kw)
            if layer_idx != layer:
                return all_keys, all_values
            return (
                torch.cat([keys.to(all_keys.dtype), all_keys], dim=2),
                torch.cat([values.to(all_values.dtype), all_values], dim=2),
            )

        cache.update = update_with_prefix
        self._armed.append(lambda: cache.__dict__.pop("update", None))

    def _widen_position_bias(self, module: nn.Module, arguments: dict[str, Any], length: int) -> None:
        bias = arguments.get(BIAS_NAME)
        self._strip = length
        if bias is not None:  # handed on from the layer before, the mask included: the prefix columns are new
            arguments[BIAS_NAME] = pad_front(bias, length)
        elif hasattr(module, "compute_bias"):
            self._wrap_compute_bias(module, length)

    def _wrap_compute_bias(self, module: nn.Module, length: int) -> None:
        """The bias for the sequence's own keys (their positions unchanged), zero on the prefix columns in front."""
        compute = module.compute_bias

        def compute_with_prefix(query_length: int, key_length: int, *a, **kw) -> torch.Tensor:
            return pad_front(compute(query_length, key_length - length, *a, **kw), length)

        module.compute_bias = compute_with_prefix
        self._armed.append(lambda: module.__dict__.pop("compute_bias", None))
