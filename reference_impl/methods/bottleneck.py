"""Bottleneck adapters (sequential and parallel), placed after the attention output and/or the FFN output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..configs import BnConfig
from ..state import AdapterState, iter_layers
from .base import MethodFamily, Placement, SiteAdapter, register_family
from .hub_placement import DEFINITION, PLACERS, HubPlacement, remove_hooks


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


# (in_features, out_features, role "down" or "up") -> the projection module; it initialises its own weights
Projection = Callable[[int, int, str], nn.Module]


def bottleneck_size(config: BnConfig, hidden_size: int) -> int:
    return max(1, int(hidden_size // config.reduction_factor))


class Bottleneck(SiteAdapter):
    """A bottleneck adapter on the output ``h`` of a sub-layer's last projection (see ``BnConfig`` for placement).

    The site hands it the sub-layer's residual input ``r`` (``site.residual_input``); ``norm`` is the sub-layer's
    layer norm in post-norm models (applied after the residual, so ``original_ln_before`` needs it), None in pre-norm
    ones. ``projection`` builds ``down`` and ``up`` (nn.Linear by default; Compacter's PHM layers otherwise).
    ``hub_placement``: where ``placement="adapterhub"`` departs from the definition at this site (None: nowhere).
    """

    stage = 1

    def __init__(
        self,
        config: BnConfig,
        hidden_size: int,
        generator: torch.Generator | None = None,
        projection: Projection | None = None,
        norm: nn.Module | None = None,
        hub_placement: HubPlacement | None = None,
    ):
        super().__init__()
        size = bottleneck_size(config, hidden_size)
        make = projection or (lambda in_features, out_features, role: nn.Linear(in_features, out_features))
        self.ln_before = nn.LayerNorm(hidden_size) if config.ln_before else None
        self.ln_after = nn.LayerNorm(hidden_size) if config.ln_after else None
        self.adapter_residual_before_ln = config.adapter_residual_before_ln
        self.down = make(hidden_size, size, "down")
        self.activation = _ACTIVATIONS[config.non_linearity]()
        self.up = make(size, hidden_size, "up")
        self.scaling = config.scaling
        self.is_parallel = config.is_parallel
        self.original_ln_before = config.original_ln_before
        self.original_ln_after = config.original_ln_after
        self.residual_before_ln = config.residual_before_ln
        self.__dict__["_norm"] = norm  # the model's own module, not a submodule of the adapter
        self.hub_placement = hub_placement or DEFINITION
        if projection is None:
            self.reset_parameters(config.init_weights, generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.bias)
        if scheme == "mam":
            bound = 1 / self.down.in_features**0.5
            self.down.weight.uniform_(-bound, bound, generator=generator)
            nn.init.zeros_(self.up.weight)
        else:  # "bert": near-identity, not identity
            self.down.weight.normal_(0.0, 0.02, generator=generator)
            self.up.weight.normal_(0.0, 0.02, generator=generator)

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        if self.ln_before is not None:
            x = self.ln_before(x)
        return self.scaling * self.up(self.activation(self.down(x)))

    def combine(self, residual: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        """The adapter's result: its output (after ``ln_after``, if any) plus its residual."""
        if self.ln_after is None:
            return residual + up
        if self.adapter_residual_before_ln and not self.is_parallel:
            return self.ln_after(residual + up)
        return residual + self.ln_after(up)

    def parts(self, h: torch.Tensor, site: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the adapter's input, its residual, its scaled bottleneck output) for the sub-layer output ``h``."""
        h = self.branch(h)
        r = site.residual_input
        if r is None:
            raise RuntimeError(f"bottleneck adapter at {site.location} ran before its sub-layer's input was seen")
        if self.is_parallel:
            return r, h, self.bottleneck(r)
        x = residual = h
        if self.original_ln_before:
            x = h + r if self.hub_placement.reads_residual_input else h
            if self.residual_before_ln == "post_add":
                residual = x
            norm = self.__dict__["_norm"]
            if norm is not None:
                x = norm.forward(x)  # forward, not __call__: the model's hooks on its norm are not ours to run
        if self.residual_before_ln is False:
            residual = x
        return x, residual, self.bottleneck(x)

    def finish(self, result: torch.Tensor, site: Any) -> torch.Tensor:
        """What the hooked projection outputs so that the sub-layer ends as ``original_ln_after`` says."""
        if not self.original_ln_after:
            result = result - site.residual_input  # the pre-norm layer adds r back: its output is ``result``
        return self.hub_placement.output(result)

    def branch(self, output: torch.Tensor) -> torch.Tensor:
        """The sub-layer branch this adapter reads from the hooked module's output (``h`` but where
        ``placement="adapterhub"`` departs from the definition)."""
        return self.hub_placement.branch(output)

    def apply(self, x: Any, output: torch.Tensor, site: Any) -> torch.Tensor:
        _, residual, up = self.parts(output, site)
        return self.finish(self.combine(residual, up), site)


@register_family
class BottleneckFamily(MethodFamily):
    name = "bottleneck"
    supported_blocks = frozenset({"Stack", "Fuse", "Parallel", "Split", "BatchSplit", "Average"})

    def placements(self, state: AdapterState, model: Any, config: BnConfig) -> Iterator[Placement]:
        found = self.defined_placements(state, model, config)
        # an architecture where AdapterHub places them elsewhere: its placer follows config.placement
        placer = PLACERS.get(state.spec.name)
        return found if placer is None else placer(state, model, config, found)

    def defined_placements(self, state: AdapterState, model: Any, config: BnConfig) -> Iterator[Placement]:
        """Where the definition places the adapters (the suite's oracle)."""
        if not config.original_ln_after and any(s.norm_position == "post" for s in state.layout.stacks):
            raise ValueError(
                f"{type(config).__name__}: original_ln_after=False would skip the layer norm of a post-norm model "
                f"({state.spec.name}); the reference supports it on pre-norm models only"
            )
        for layer in iter_layers(state, model):
            if layer.index in config.leave_out:
                continue
            stack = layer.stack
            pre_norm = stack.norm_position == "pre"
            # a norm ending the branch (x + norm(f(x))): the branch's output is that norm's, and the layer adds the
            # residual to it as a pre-norm layer does
            branch = stack.norm_position == "branch"
            attention = stack.self_attention
            if config.mh_adapter:
                # the sub-layer's residual input: what its pre-norm reads, or (post-norm) what its projections read
                source = stack.attention_norm if pre_norm else (attention.qkv or attention.q)
                yield Placement(
                    layer.find(stack.attention_norm if branch else attention.output),
                    layer.index,
                    f"{stack.name}.self_attention.output",
                    feeder=layer.find(source),
                    norm=None if pre_norm or branch else layer.find(stack.attention_norm),
                )
            if config.output_adapter:
                source = stack.ffn_norm if pre_norm else stack.ffn_in
                yield Placement(
                    layer.find(stack.ffn_norm if branch else stack.ffn_out),
                    layer.index,
                    f"{stack.name}.ffn_out",
                    feeder=layer.find(source),
                    norm=None if pre_norm or branch else layer.find(stack.ffn_norm),
                )

    def on_delete(self, model: Any, state: AdapterState) -> None:
        remove_hooks(model, state)

    def build(self, config: BnConfig, placement: Placement, state: AdapterState, generator: Any) -> Bottleneck:
        projection = self.projection(config, state, generator)
        return Bottleneck(config, state.hidden_size, generator, projection, placement.norm, placement.hub_placement)

    def projection(self, config: BnConfig, state: AdapterState, generator: Any) -> Projection | None:
        """How subclasses build the down- and up-projections; None: nn.Linear."""
        return None
