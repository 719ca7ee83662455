"""Invertible adapters (Pfeiffer et al., 2020, MAD-X): a bottleneck adapter plus an invertible coupling block on the
token embeddings, whose inverse runs on the input of the LM head (the output embeddings).

``seq_bn_inv`` / ``double_seq_bn_inv`` are ``seq_bn`` / ``double_seq_bn`` (their oracle, from the registry) plus the
coupling block, an edit of its own. Canonical tensors of the block, model-level at site ``invertible``:
``F_down``, ``F_down_bias``, ``F_up``, ``F_up_bias`` and the same for ``G``: each subnet is
``up(act(down(x)))`` with ``act`` the config's ``non_linearity`` (the bottleneck's; AdapterHub's defaults: relu for
``seq_bn_inv``, swish for ``double_seq_bn_inv``) and ``down`` shrinking its input by ``inv_adapter_reduction_factor``. With the hidden state split into ``x1`` (the first ``hidden // 2``
features) and ``x2`` (the rest):

- NICE (additive): ``y1 = x1 + F(x2)``, ``y2 = x2 + G(y1)``; inverse ``x2 = y2 - G(y1)``, ``x1 = y1 - F(x2)``.
- Glow (affine): ``F(x2)`` is ``[s; t]`` for ``x1`` (log-scale rows first), ``G(y1)`` the same for ``x2``;
  ``y1 = x1 * exp(c(s)) + t``, ``y2 = x2 * exp(c(s')) + t'``, with the soft clamp
  ``c(s) = 5 * (2 / pi) * atan(s / 5)`` (FrEIA's, which AdapterHub copies writing 0.636 for 2 / pi).

Where (``inv_adapter_placement``): ``"token_embeddings"`` (the default): the block transforms the output of each
module that embeds the tokens (transformers' ``get_input_embeddings`` of the encoder and of the decoder);
``"stack_input"`` (AdapterHub's placement): the hidden states the first layer of the layout's first stack takes (after
position embeddings, layer norm and dropout; an encoder-decoder's decoder inputs stay as they are), a pre-hook
(``hooks``); the composition oracle does not define it. Either way its inverse transforms the input of the output
embeddings (``get_output_embeddings``) where the model has them.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from architectures.live import base_model, get_path, layers_of, resolve_layout
from conformance.weights import parse

from .base import INPUT, Captures, Edit, MethodOracle, Region
from .registry import defines, oracle_for


SITE = "invertible"
GLOW_CLAMP = 5.0
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "swish": nn.SiLU, "silu": nn.SiLU}
ACTIVATIONS["identity"] = nn.Identity
DEFAULT_NON_LINEARITY = {"seq_bn_inv": "relu", "double_seq_bn_inv": "swish"}
PLACEMENTS = ("token_embeddings", "stack_input")


def clamp(raw: torch.Tensor) -> torch.Tensor:
    return GLOW_CLAMP * (2 / math.pi) * torch.atan(raw / GLOW_CLAMP)


class Coupling:
    """The block by its formula, from the canonical tensors."""

    def __init__(self, kind: str, tensors: dict[str, torch.Tensor], activation: nn.Module):
        missing = [f"{s}_{p}{b}" for s in "FG" for p in ("down", "up") for b in ("", "_bias")]
        missing = [name for name in missing if name not in tensors]
        if missing:
            raise KeyError(f"the invertible adapter's canonical weights lack model.{SITE}.{missing}")
        self.kind, self.tensors, self.activation = kind, tensors, activation

    def check_shapes(self, hidden: int, reduction_factor: float) -> None:
        """Each subnet maps one half to (NICE) the other half or (Glow) twice it, through ``in // reduction``."""
        first, second = hidden // 2, hidden - hidden // 2
        width = 1 if self.kind == "nice" else 2
        expected = {}
        for subnet, source, target in (("F", second, first), ("G", first, second)):
            inner = int(source // reduction_factor)
            expected |= {f"{subnet}_down": (inner, source), f"{subnet}_down_bias": (inner,)}
            expected |= {f"{subnet}_up": (width * target, inner), f"{subnet}_up_bias": (width * target,)}
        found = {name: tuple(self.tensors[name].shape) for name in expected}
        if found != expected:
            raise AssertionError(
                f"{self.kind} coupling, hidden size {hidden}, inv_adapter_reduction_factor {reduction_factor}: "
                f"tensor shapes {expected}, got {found}"
            )

    def subnet(self, which: str, x: torch.Tensor) -> torch.Tensor:
        t = self.tensors
        hidden = self.activation(x @ t[f"{which}_down"].T + t[f"{which}_down_bias"])
        return hidden @ t[f"{which}_up"].T + t[f"{which}_up_bias"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        y1 = self._couple(x1, self.subnet("F", x2))
        return torch.cat([y1, self._couple(x2, self.subnet("G", y1))], dim=-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[..., : y.shape[-1] // 2], y[..., y.shape[-1] // 2 :]
        x2 = self._decouple(y2, self.subnet("G", y1))
        return torch.cat([self._decouple(y1, self.subnet("F", x2)), x2], dim=-1)

    def _couple(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        if self.kind == "nice":
            return x + condition
        log_scale, shift = condition.chunk(2, dim=-1)
        return x * torch.exp(clamp(log_scale)) + shift

    def _decouple(self, y: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        if self.kind == "nice":
            return y - condition
        log_scale, shift = condition.chunk(2, dim=-1)
        return (y - shift) * torch.exp(-clamp(log_scale))


def embedding_modules(model: nn.Module, spec: Any) -> list[nn.Module]:
    """The distinct modules that embed the tokens, read off transformers' accessors; where a model has no token
    embeddings (transformers 5.x raises for wav2vec2), the spec's ``embeddings``, which the layers read."""
    base = base_model(model)
    hosts = [base.get_encoder(), base.get_decoder()] if spec.is_encoder_decoder else [base]
    found: list[nn.Module] = []
    for host in hosts:
        try:
            module = host.get_input_embeddings()
        except NotImplementedError:
            module = get_path(base, resolve_layout(spec, base).embeddings)
        if all(module is not other for other in found):
            found.append(module)
    return found


def path_of(model: nn.Module, module: nn.Module) -> str:
    return next(name for name, candidate in model.named_modules() if candidate is module)


@defines("seq_bn_inv", "double_seq_bn_inv")
class InvertibleOracle(MethodOracle):
    def edits(self, model, spec, weights, config) -> tuple[list[Edit], Captures | None]:
        rest = {n: w for n, w in weights.items() if not (parse(n).layer is None and parse(n).site == SITE)}
        bottleneck = bottleneck_config(config)
        edits, captures = oracle_for(bottleneck["config"]).edits(model, spec, rest, bottleneck)
        coupling = _coupling(model, spec, weights, config)
        return [*edits, *coupling_edits(model, spec, coupling, placement(config))], captures

    def hooks(self, model, spec, weights, config, inputs):
        if placement(config) != "stack_input":
            return contextlib.nullcontext()
        return stack_input_hook(model, spec, _coupling(model, spec, weights, config))


def placement(config: dict[str, Any]) -> str:
    found = config.get("inv_adapter_placement", "token_embeddings")
    if found not in PLACEMENTS:
        raise ValueError(f"the invertible oracle defines inv_adapter_placement {PLACEMENTS}, not {found!r}")
    return found


def _coupling(model: nn.Module, spec: Any, weights: dict[str, torch.Tensor], config: dict[str, Any]) -> Coupling:
    mine = {parse(n).tensor: w for n, w in weights.items() if parse(n).layer is None and parse(n).site == SITE}
    activation = ACTIVATIONS[config.get("non_linearity", DEFAULT_NON_LINEARITY[config["config"]])]()
    coupling = Coupling(config.get("inv_adapter", "nice"), mine, activation)
    # the width it transforms: the token embeddings' (factorised embeddings, ALBERT, narrow it) or the hidden size
    width = getattr(embedding_modules(model, spec)[0], "embedding_dim", None)
    if width is None or placement(config) == "stack_input":
        width = spec.config_value(model.config, "hidden_size")
    coupling.check_shapes(width, config.get("inv_adapter_reduction_factor", 2))
    return coupling


@contextlib.contextmanager
def stack_input_hook(model: nn.Module, spec: Any, coupling: Coupling) -> Iterator[None]:
    """The block on the hidden states the first layer of the layout's first stack takes (positional or by name)."""
    first = layers_of(resolve_layout(spec, model).stacks[0], model)[0]
    name = next(iter(inspect.signature(first.forward).parameters))

    def transform(module, args, kwargs):
        if args:
            return (coupling.forward(args[0]), *args[1:]), kwargs
        return args, {**kwargs, name: coupling.forward(kwargs[name])}

    handle = first.register_forward_pre_hook(transform, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def bottleneck_config(config: dict[str, Any]) -> dict[str, Any]:
    """The bottleneck part: the config without the invertible adapter's fields."""
    part = {k: v for k, v in config.items() if not k.startswith("inv_adapter")}
    return {**part, "config": config["config"].removesuffix("_inv")}


def coupling_edits(model: nn.Module, spec: Any, coupling: Coupling, where: str = "token_embeddings") -> list[Edit]:
    """The block on the token embeddings (none for ``stack_input``: a pre-hook, ``hooks``) and its inverse before the
    LM head."""

    def forward(args: tuple[Any, ...], output: torch.Tensor, region: Region) -> torch.Tensor:
        return coupling.forward(output)

    edits = []
    if where == "token_embeddings":
        edits = [Edit(path_of(model, module), forward) for module in embedding_modules(model, spec)]
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if isinstance(head, nn.Module):

        def inverse(args: tuple[Any, ...], x: torch.Tensor, region: Region) -> torch.Tensor:
            return coupling.inverse(x)

        edits.append(Edit(path_of(model, head), inverse, stage=INPUT))
    return edits
