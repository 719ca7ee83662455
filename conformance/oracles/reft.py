"""ReFT (Wu et al., 2024, "ReFT: Representation Finetuning for Language Models"): interventions on layer outputs.

Canonical tensors, per adapted layer at site ``reft`` (``"<layer>.reft.<tensor>"``):

- ``R`` (r x hidden): the effective projection; LoReFT's has orthonormal rows (``R R^T = I``).
- ``W`` (r x hidden) and ``b`` (r,): the learned source ``W h + b``.
- One set ``R``, ``W``, ``b`` when one intervention serves every edited position (``tied_weights``, or only prefix or
  only suffix positions are edited); else ``prefix_R``, ``prefix_W``, ``prefix_b`` for the prefix positions and
  ``suffix_R``, ``suffix_W``, ``suffix_b`` for the suffix positions.

The edit of one hidden state ``h`` (a layer's output at an edited position):

- LoReFT and NoReFT: ``h + R^T (act(W h + b) - R h)`` (NoReFT: R unconstrained);
- DiReFT: ``h + R^T act(W h + b)`` (no orthogonality, no subtraction; the paper writes ``W2^T (W1 h + b)``).

``act`` is ``non_linearity`` (the identity by default). Edited positions: per row, the first ``prefix_positions`` and
the last ``suffix_positions`` non-padding positions of the stack's input (the attention mask of an encoder or
decoder-only model, the decoder's own mask for decoder layers), never running into padding; where they overlap the
suffix intervention applies. Layers: ``layers`` ("all" or indices) minus ``leave_out``. Defaults are AdapterHub's
(``prefix_positions=3``, ``suffix_positions=0``, ``tied_weights=False``, ``layers="all"``); dropout is off in eval.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from architectures.live import base_model, layers_of, resolve_layout
from conformance.weights import WeightKey, parse

from .base import Captures, Edit, MethodOracle, Region
from .registry import defines


# variant -> (R has orthonormal rows, the edit subtracts R h)
VARIANTS = {"loreft": (True, True), "noreft": (False, True), "direft": (False, False)}
ACTIVATIONS = {
    None: nn.Identity,
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
}
ORTHONORMAL_ATOL = 1e-4


@dataclass(frozen=True)
class ReftOptions:
    orthonormal: bool
    subtract: bool
    r: int
    prefix_positions: int
    suffix_positions: int
    tied: bool
    layers: Any
    leave_out: frozenset[int]
    activation: nn.Module

    @classmethod
    def of(cls, config: dict[str, Any]) -> ReftOptions:
        orthonormal, subtract = VARIANTS[config["config"]]
        return cls(
            orthonormal=orthonormal,
            subtract=subtract,
            r=config.get("r", 1),
            prefix_positions=config.get("prefix_positions", 3),
            suffix_positions=config.get("suffix_positions", 0),
            tied=config.get("tied_weights", False),
            layers=config.get("layers", "all"),
            leave_out=frozenset(config.get("leave_out", ())),
            activation=ACTIVATIONS[config.get("non_linearity")](),
        )

    def adapts(self, layer: int) -> bool:
        return layer not in self.leave_out and (self.layers == "all" or layer in self.layers)

    def units(self) -> dict[str, str]:
        """Which positions each canonical tensor-name prefix serves: {"": "both"} or prefix and suffix apart."""
        if self.tied or not (self.prefix_positions and self.suffix_positions):
            return {"": "both"}
        return {"prefix_": "prefix", "suffix_": "suffix"}


def intervene(h: torch.Tensor, R: torch.Tensor, W: torch.Tensor, b: torch.Tensor, options: ReftOptions):
    source = options.activation(h @ W.T + b)
    if options.subtract:
        source = source - h @ R.T
    return h + source @ R


def positions(mask: torch.Tensor, prefix: int, suffix: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean (batch, length) masks of the first ``prefix`` and last ``suffix`` non-padding positions per row."""
    batch, length = mask.shape
    index = torch.arange(length).unsqueeze(0)
    real = mask != 0
    first = real.int().argmax(dim=1, keepdim=True)
    end = length - real.flip(1).int().argmax(dim=1, keepdim=True)
    prefixes = (index >= first) & (index < torch.minimum(first + prefix, end))
    suffixes = (index >= torch.maximum(end - suffix, first)) & (index < end)
    return prefixes, suffixes


class Masks:
    """The 2D attention mask each stack got in the run in progress, read off the stack's input module."""

    def __init__(self, captures: Captures):
        self.captures = captures

    def of(self, stack: str, output: torch.Tensor, region: Region) -> torch.Tensor:
        name = f"reft.mask.{stack}"
        if name not in self.captures.values:
            raise RuntimeError(f"the {stack} attention mask was not captured: install the oracle's captures (on_call)")
        mask = self.captures.values[name]
        if mask is None:
            return torch.ones(output.shape[:2], dtype=torch.long)
        mask = region.take(mask)
        if mask.shape != output.shape[:2]:
            raise ValueError(f"the {stack} attention mask {tuple(mask.shape)} does not cover {tuple(output.shape)}")
        return mask


def _path_of(model: nn.Module, module: nn.Module) -> str:
    return next(name for name, candidate in model.named_modules() if candidate is module)


def stack_inputs(model: nn.Module, spec: Any, stacks: tuple[Any, ...]) -> list[tuple[str, nn.Module]]:
    """(stack name, the module that takes the stack's tokens and attention mask): the base model, an
    encoder-decoder's encoder and decoder, or each tower of a dual encoder (CLIP: the base's child holding it)."""
    base = base_model(model)
    if len(stacks) == 1:
        return [(stacks[0].name, base)]
    if spec.is_encoder_decoder:
        return [(stacks[0].name, base.get_encoder()), (stacks[1].name, base.get_decoder())]
    return [(stack.name, base.get_submodule(stack.path.split(".")[0])) for stack in stacks]


def mask_picker(module: nn.Module) -> Any:
    """``pick(args, kwargs)``: the 2D attention mask of a call of ``module`` (None without one)."""
    names = list(inspect.signature(module.forward).parameters)
    at = names.index("attention_mask") if "attention_mask" in names else None

    def pick(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
        mask = kwargs.get("attention_mask", args[at] if at is not None and len(args) > at else None)
        if mask is not None and mask.dim() != 2:
            raise NotImplementedError(f"a {mask.dim()}D attention mask: ReFT's positions are defined by a 2D one")
        return mask

    return pick


def _layer_prefix(model: nn.Module) -> str:
    """The path of the base model inside ``model`` ("" when ``model`` is the base model), with a trailing dot."""
    base = base_model(model)
    if base is model:
        return ""
    return next(f"{name}." for name, module in model.named_children() if module is base)


@defines(*VARIANTS)
class ReftOracle(MethodOracle):
    def edits(self, model, spec, weights, config) -> tuple[list[Edit], Captures | None]:
        options = ReftOptions.of(config)
        layout = resolve_layout(spec, model)
        captures = Captures()
        for stack, module in stack_inputs(model, spec, layout.stacks):
            captures.on_call(_path_of(model, module), mask_picker(module), f"reft.mask.{stack}")
        masks = Masks(captures)
        prefix = _layer_prefix(model)
        edits, index = [], 0
        hidden = spec.config_value(model.config, "hidden_size")
        for stack in layout.stacks:
            for position in range(len(layers_of(stack, model))):
                if options.adapts(index):
                    fn = _edit(index, stack.name, masks, options, weights, config["config"], hidden)
                    edits.append(Edit(f"{prefix}{stack.path}.{position}", fn))
                index += 1
        unused = sorted(name for name in weights if not _used(parse(name), options, index))
        if unused:
            raise AssertionError(f"{config['config']}: canonical tensors the definition has no place for: {unused}")
        return edits, captures


def _used(name: WeightKey, options: ReftOptions, layers: int) -> bool:
    expected = {f"{prefix}{tensor}" for prefix in options.units() for tensor in "RWb"}
    in_layers = name.layer is not None and name.layer < layers and options.adapts(name.layer)
    return in_layers and name.site == "reft" and name.tensor in expected


def _edit(
    layer: int, stack: str, masks: Masks, options: ReftOptions, weights: dict[str, torch.Tensor], variant, hidden
):
    units = {}
    for prefix, serves in options.units().items():
        names = [f"{layer}.reft.{prefix}{tensor}" for tensor in "RWb"]
        missing = [name for name in names if name not in weights]
        if missing:
            raise KeyError(f"{variant}: the adapter's canonical weights lack {missing}")
        R, W, b = (weights[name] for name in names)
        shapes = {name: tuple(t.shape) for name, t in zip(names, (R, W, b), strict=True)}
        expected = dict(zip(names, ((options.r, hidden), (options.r, hidden), (options.r,)), strict=True))
        if shapes != expected:
            raise AssertionError(
                f"{variant} with r={options.r}, hidden size {hidden}: shapes {expected}, got {shapes}"
            )
        if options.orthonormal:
            gram = R @ R.T
            if not torch.allclose(gram, torch.eye(R.shape[0], dtype=R.dtype), atol=ORTHONORMAL_ATOL):
                raise AssertionError(f"{variant}: {names[0]} must have orthonormal rows (R R^T = I); it has {gram}")
        units[serves] = (R, W, b)

    def fn(args: tuple[Any, ...], output: torch.Tensor, region: Region) -> torch.Tensor:
        prefixes, suffixes = positions(
            masks.of(stack, output, region), options.prefix_positions, options.suffix_positions
        )
        prefix_unit = units.get("prefix", units.get("both"))
        suffix_unit = units.get("suffix", units.get("both"))
        result = output
        if options.prefix_positions:
            result = torch.where(prefixes.unsqueeze(-1), intervene(output, *prefix_unit, options), result)
        if options.suffix_positions:
            result = torch.where(suffixes.unsqueeze(-1), intervene(output, *suffix_unit, options), result)
        return result

    return fn
