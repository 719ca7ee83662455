"""Invertible adapters: a coupling block on the token embeddings, its exact inverse before the LM head.

The bottleneck adapters of ``seq_bn_inv`` / ``double_seq_bn_inv`` are placed as the bottleneck family places them. The
coupling block lives on the model's holder and runs from two hooks of this family: a forward hook on every module that
embeds tokens (encoder and decoder embeddings may be separate modules), or with ``inv_adapter_placement="stack_input"``
a forward pre-hook on the first layer of the first stack, and a forward pre-hook on the output embeddings (the LM
head), which applies the inverse. Models without output embeddings (encoders, vision models) run the forward direction
only. Composition: a Stack applies its adapters' blocks in order and inverts them in reverse order; Parallel and
BatchSplit give each slice of the batch its own block. Average and Fuse are refused: an average of invertible maps has
no exact inverse to apply before the LM head. Split is refused: it hands positions of the layers' sequence to different
adapters, and the token embeddings are not that sequence in every model (a vision model adds its class token after the
patch embeddings).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from architectures.live import base_model, get_path, layers_of

from ..configs.invertible import InvertibleOptions
from ..sites import site_of
from ..state import AdapterState
from .base import Placement, SiteAdapter, register_family
from .bottleneck import _ACTIVATIONS, BottleneckFamily
from .model_level import (
    HOLDER_LOCATION,
    MODEL_LEVEL,
    ModelHook,
    current_setup,
    held,
    holder_module,
    input_embeddings,
    install_hook,
    remove_hook,
    stack_hosts,
)


GLOW_CLAMP = 5.0  # soft bound of the log-scales: each dimension is scaled by at most exp(±clamp)


def _subnet(in_features: int, out_features: int, config: InvertibleOptions) -> nn.Sequential:
    hidden = max(1, int(in_features // config.inv_adapter_reduction_factor))
    return nn.Sequential(
        nn.Linear(in_features, hidden), _ACTIVATIONS[config.non_linearity](), nn.Linear(hidden, out_features)
    )


class InvertibleAdapter(SiteAdapter):
    """A coupling block over the hidden size split in two halves; ``forward(x, rev=True)`` is its exact inverse."""

    def __init__(self, config: InvertibleOptions, hidden_size: int, generator: torch.Generator | None = None):
        super().__init__()
        self.first, self.second = hidden_size // 2, hidden_size - hidden_size // 2
        self.build_subnets(config)
        self.reset_parameters(config.init_weights, generator)

    def build_subnets(self, config: InvertibleOptions) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None) -> None:
        for subnet in self.children():
            for layer in subnet:
                if isinstance(layer, nn.Linear):
                    layer.weight.normal_(0.0, 0.02, generator=generator)
                    nn.init.zeros_(layer.bias)
            if scheme == "mam":  # zero output layers: the block starts as the identity
                nn.init.zeros_(subnet[-1].weight)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[..., : self.first], x[..., self.first :]

    def apply(self, x: Any, output: Any, site: Any) -> Any:
        raise RuntimeError("an invertible adapter runs from the invertible family's embedding hooks, not on a site")


class NiceCoupling(InvertibleAdapter):
    """Additive coupling (NICE): ``y1 = x1 + F(x2)``, ``y2 = x2 + G(y1)``."""

    def build_subnets(self, config: InvertibleOptions) -> None:
        self.F = _subnet(self.second, self.first, config)
        self.G = _subnet(self.first, self.second, config)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        a, b = self.split(x)
        if not rev:
            y1 = a + self.F(b)
            return torch.cat([y1, b + self.G(y1)], dim=-1)
        x2 = b - self.G(a)
        return torch.cat([a - self.F(x2), x2], dim=-1)


class GlowCoupling(InvertibleAdapter):
    """Affine coupling (Glow): ``y1 = x1 * exp(s2(x2)) + t2(x2)``, ``y2 = x2 * exp(s1(y1)) + t1(y1)``."""

    def build_subnets(self, config: InvertibleOptions) -> None:
        self.s2 = _subnet(self.second, 2 * self.first, config)
        self.s1 = _subnet(self.first, 2 * self.second, config)

    @staticmethod
    def _scale_shift(subnet: nn.Module, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_scale, shift = subnet(source).chunk(2, dim=-1)
        return GLOW_CLAMP * (2 / math.pi) * torch.atan(raw_scale / GLOW_CLAMP), shift

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        a, b = self.split(x)
        if not rev:
            scale, shift = self._scale_shift(self.s2, b)
            y1 = a * torch.exp(scale) + shift
            scale, shift = self._scale_shift(self.s1, y1)
            return torch.cat([y1, b * torch.exp(scale) + shift], dim=-1)
        scale, shift = self._scale_shift(self.s1, a)
        x2 = (b - shift) * torch.exp(-scale)
        scale, shift = self._scale_shift(self.s2, x2)
        return torch.cat([(a - shift) * torch.exp(-scale), x2], dim=-1)


COUPLINGS = {"nice": NiceCoupling, "glow": GlowCoupling}


def transform(block: Any, x: torch.Tensor, blocks: dict[str, InvertibleAdapter], inverse: bool) -> torch.Tensor:
    """Apply the invertible adapters of ``block`` (a name or composition block) to ``x``, or undo them."""
    if isinstance(block, str):
        return blocks[block](x, rev=inverse) if block in blocks else x
    if not any(name in blocks for name in block.flatten()):
        return x
    kind = type(block).__name__
    if kind == "Stack":
        for child in reversed(tuple(block)) if inverse else block:
            x = transform(child, x, blocks, inverse)
        return x
    if kind == "Parallel":
        sizes = [x.shape[0] // len(block)] * len(block)
    elif kind == "BatchSplit":
        sizes = list(block.batch_sizes)
    else:
        raise ValueError(f"{block!r}: invertible adapters cannot take part in {kind}")
    if sum(sizes) != x.shape[0]:
        raise ValueError(f"{block!r} covers a batch of {sum(sizes)}, but the input has {x.shape[0]}")
    parts = [transform(child, part, blocks, inverse) for child, part in zip(block, x.split(sizes), strict=True)]
    return torch.cat(parts)


class _InvertibleHook(ModelHook):
    def __init__(self, holder: nn.Module, state: AdapterState):
        self.holder = holder
        self.state = state

    placement: str | None = None  # the inv_adapter_placement of the blocks this hook runs (None: every block)

    def run(self, x: Any, inverse: bool) -> Any:
        setup = current_setup(self.state)
        site = site_of(self.holder)
        if setup is None or site is None or InvertibleFamily.name not in site or not isinstance(x, torch.Tensor):
            return None
        blocks = {
            name: block
            for name, block in site[InvertibleFamily.name].items()
            if self.placement in (None, placement_of(self.state, name))
        }
        return transform(setup, x, blocks, inverse) if blocks else None


def placement_of(state: AdapterState, name: str) -> str:
    return getattr(state.configs.get(name), "inv_adapter_placement", "token_embeddings")


class EmbeddingTransform(_InvertibleHook):
    """Forward hook on a token-embedding module: the active invertible adapters transform its output."""

    attribute = "_adapter_invertible"
    placement = "token_embeddings"

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        if isinstance(output, tuple) and output:  # 4.x BEiT's embeddings: (embeddings, (patch rows, patch columns))
            transformed = self.run(output[0], inverse=False)
            return None if transformed is None else (transformed, *output[1:])
        return self.run(output, inverse=False)


class EmbeddingsOutputTransform(EmbeddingTransform):
    """Forward hook on the module that embeds the input (``inv_adapter_placement="embeddings_output"``): the active
    invertible adapters placed there transform its output."""

    attribute = "_adapter_invertible_embeddings_output"
    placement = "embeddings_output"


class StackInputTransform(_InvertibleHook):
    """Forward pre-hook on the first layer of the model's first stack: the active invertible adapters placed there
    (``inv_adapter_placement="stack_input"``) transform the hidden states the layer takes."""

    attribute = "_adapter_invertible_stack_input"
    placement = "stack_input"

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if args:
            done = self.run(args[0], inverse=False)
            return None if done is None else ((done, *args[1:]), kwargs)
        first = next(iter(inspect.signature(module.forward).parameters))  # the hidden states, passed by name
        done = self.run(kwargs.get(first), inverse=False)
        return None if done is None else (args, {**kwargs, first: done})


class InverseTransform(_InvertibleHook):
    """Forward pre-hook on the output embeddings: undo the active invertible adapters on the LM head's input."""

    attribute = "_adapter_invertible_inverse"

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if args:
            undone = self.run(args[0], inverse=True)
            return None if undone is None else ((undone, *args[1:]), kwargs)
        if "input" in kwargs:
            undone = self.run(kwargs["input"], inverse=True)
            return None if undone is None else (args, {**kwargs, "input": undone})
        return None


def _hooked_modules(
    model: Any, state: AdapterState, placements: set[str]
) -> Iterator[tuple[nn.Module, type[_InvertibleHook]]]:
    """The modules the invertible adapters of ``placements`` run on, with their hook (the LM head's: the inverse)."""
    seen: set[int] = set()
    if "token_embeddings" in placements:
        for host, _ in stack_hosts(model, state):
            embeddings = input_embeddings(host, model, state)
            if id(embeddings) not in seen:
                seen.add(id(embeddings))
                yield embeddings, EmbeddingTransform
    if "stack_input" in placements:
        yield layers_of(state.layout.stacks[0], model)[0], StackInputTransform
    if "embeddings_output" in placements:
        path = state.layout.embedding_module
        if path is None:
            raise ValueError(
                f"inv_adapter_placement='embeddings_output': {state.spec.name} embeds its input in no module of its "
                "own before the layers (its token embeddings sit beside them); use 'stack_input' or 'token_embeddings'"
            )
        yield get_path(base_model(model), path), EmbeddingsOutputTransform
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if isinstance(head, nn.Module) and placements:
        yield head, InverseTransform


def _placements(state: AdapterState, model: Any) -> set[str]:
    """The placements of the invertible adapters the model holds."""
    return {placement_of(state, name) for name in held(model, InvertibleFamily.name)}


def _width(module: nn.Module, direction: str) -> int | None:
    """The vector size a token-embedding module puts out (``out``) or an LM head takes in (``in``); None for a layer
    (``stack_input``: the caller knows its width, the hidden size)."""
    for attribute in ("embedding_dim", "out_features") if direction == "out" else ("in_features",):
        if isinstance(getattr(module, attribute, None), int):
            return getattr(module, attribute)
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.dim() == 2:  # Embedding (vocab, size); Linear (out, in)
        return int(weight.shape[1])
    return None


def embedding_size(model: Any, state: AdapterState, placement: str = "token_embeddings") -> int:
    """The size of the vectors the invertible adapter transforms: what the token embeddings put out, which is not the
    hidden size where a model projects its embeddings (ELECTRA's ``embedding_size``). The LM head's input must have the
    same size, since the inverse runs there; a model where they differ is refused up front."""
    sizes = {}
    for module, hook in _hooked_modules(model, state, {placement}):
        if hook is StackInputTransform:
            sizes[f"{type(module).__name__} (first layer's input)"] = state.hidden_size
            continue
        if hook is EmbeddingsOutputTransform:  # puts out what the token embeddings do, normed (no projection)
            tokens = get_path(base_model(model), state.layout.embeddings)
            sizes[f"{type(module).__name__} (embeddings output)"] = _width(tokens, "out")
            continue
        direction = "out" if hook is EmbeddingTransform else "in"
        sizes[f"{type(module).__name__} ({'token embeddings' if direction == 'out' else 'LM head'})"] = _width(
            module, direction
        )
    known = {size for size in sizes.values() if size is not None}
    if len(known) > 1:
        listed = ", ".join(f"{where}: {size}" for where, size in sizes.items())
        raise ValueError(
            "an invertible adapter needs token embeddings and an LM head input of one size, since its inverse runs "
            f"before the LM head; here they differ ({listed})"
        )
    return known.pop() if known else state.hidden_size


@register_family
class InvertibleFamily(BottleneckFamily):
    name = "invertible"
    supported_blocks = frozenset({"Stack", "Parallel", "BatchSplit"})

    def placements(self, state: AdapterState, model: Any, config: InvertibleOptions) -> Iterator[Placement]:
        found = list(super().placements(state, model, config))
        if found:
            # refuses, before anything is built, a model it cannot fit
            size = embedding_size(model, state, config.inv_adapter_placement)
            yield Placement(holder_module(model), MODEL_LEVEL, HOLDER_LOCATION, hooked=False, size=size)
        yield from found

    def build(self, config: InvertibleOptions, placement: Placement, state: AdapterState, generator: Any) -> Any:
        if not placement.hooked:
            return COUPLINGS[config.inv_adapter](config, placement.size or state.hidden_size, generator)
        return super().build(config, placement, state, generator)

    def attach(self, model: Any, state: AdapterState, name: str) -> None:
        holder = holder_module(model)
        for module, hook in _hooked_modules(model, state, _placements(state, model)):
            install_hook(module, hook(holder, state))

    def on_delete(self, model: Any, state: AdapterState) -> None:
        super().on_delete(model, state)  # the bottleneck family's own hooks
        kept = {id(module) for module, _ in _hooked_modules(model, state, _placements(state, model))}
        every = {"token_embeddings", "stack_input"} | (
            {"embeddings_output"} if state.layout.embedding_module else set()
        )
        for module, hook in _hooked_modules(model, state, every):
            if id(module) not in kept:
                remove_hook(module, hook.attribute)
