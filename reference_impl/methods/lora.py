"""LoRA: a low-rank update of a linear projection, on nn.Linear and on transformers' Conv1D (transposed weight)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..configs import LoRAConfig
from ..state import AdapterState, iter_layers
from .base import MethodFamily, Placement, SiteAdapter, register_family


class LoRA(SiteAdapter):
    """The update ``B(A(dropout(x))) * scaling``, written into ``out_index`` of the projection's output.

    ``out_index`` selects the output features the update covers (the q and v slices of a fused qkv projection); None
    means all of them.
    """

    def __init__(
        self,
        config: LoRAConfig,
        in_features: int,
        out_features: int,
        out_index: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        covered = out_features if out_index is None else len(out_index)
        self.lora_A = nn.Linear(in_features, config.r, bias=False)
        self.lora_B = nn.Linear(config.r, covered, bias=False)
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.scaling = config.scaling
        self.out_features = out_features
        self.register_buffer("out_index", out_index, persistent=False)
        self.merged = False
        self.weight_before_merge: torch.Tensor | None = None
        self.reset_parameters(config.init_weights, generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        bound = 1 / math.sqrt(self.lora_A.in_features)  # kaiming_uniform with a=sqrt(5), as nn.Linear does
        self.lora_A.weight.uniform_(-bound, bound, generator=generator)
        if scheme == "lora":
            nn.init.zeros_(self.lora_B.weight)
        else:
            self.lora_B.weight.normal_(0.0, 0.02, generator=generator)

    stage = 0

    def apply(self, x: torch.Tensor, output: torch.Tensor, site: Any) -> torch.Tensor:
        return output if self.merged else self(x, output)

    def forward(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        update = self.lora_B(self.lora_A(self.dropout(x))) * self.scaling
        if self.out_index is None:
            return output + update
        return output.index_add(-1, self.out_index, update.to(output.dtype))

    @torch.no_grad()
    def merge_into(self, module: nn.Module) -> None:
        if self.merged:
            return
        # kept so that resetting the only merged adapter restores the weight bit for bit
        self.weight_before_merge = module.weight.detach().clone()
        add_to_weight(module, self.delta_weight(), +1.0)
        self.merged = True

    @torch.no_grad()
    def unmerge_from(self, module: nn.Module, others_merged: bool) -> None:
        if not self.merged:
            return
        if others_merged:
            add_to_weight(module, self.delta_weight(), -1.0)
        else:
            module.weight.copy_(self.weight_before_merge)
        self.weight_before_merge = None
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        """The update as a full (out_features, in_features) matrix."""
        delta = (self.lora_B.weight @ self.lora_A.weight) * self.scaling
        if self.out_index is None:
            return delta
        full = delta.new_zeros(self.out_features, delta.shape[1])
        return full.index_copy(0, self.out_index, delta)


def projection_shape(module: nn.Module) -> tuple[int, int, bool]:
    """(in_features, out_features, transposed) of an nn.Linear or a transformers Conv1D."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features, False
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return module.weight.shape[0], module.nf, True
    raise TypeError(
        f"LoRA adapts nn.Linear and transformers' Conv1D, not {type(module).__name__}; "
        "point the spec at a linear projection"
    )


def qkv_index(layout: str, matrices: tuple[str, ...], out_features: int, num_heads: int) -> torch.Tensor:
    """Output features of a fused qkv projection that belong to ``matrices`` (a subset of q, k, v)."""
    size = out_features // 3
    order = {"q": 0, "k": 1, "v": 2}
    if layout == "blocked":  # [q; k; v]
        parts = [torch.arange(order[m] * size, (order[m] + 1) * size) for m in matrices]
    else:  # per_head: [q_h, k_h, v_h] for each head
        head_dim = size // num_heads
        parts = [
            torch.arange(h * 3 * head_dim + order[m] * head_dim, h * 3 * head_dim + (order[m] + 1) * head_dim)
            for h in range(num_heads)
            for m in matrices
        ]
    return torch.sort(torch.cat(parts)).values


@torch.no_grad()
def add_to_weight(module: nn.Module, delta: torch.Tensor, sign: float) -> None:
    """Add ``sign * delta`` (out, in) to the projection's weight, whatever its storage order."""
    _, _, transposed = projection_shape(module)
    module.weight.add_(sign * (delta.T if transposed else delta).to(module.weight.dtype))


@register_family
class LoRAFamily(MethodFamily):
    name = "lora"
    mergeable = True
    # An update computed from the projection's input: it can be sliced by batch or sequence and averaged, but
    # there is no per-adapter output for AdapterFusion to attend over.
    supported_blocks = frozenset({"Stack", "Parallel", "Split", "BatchSplit", "Average"})

    def placements(self, state: AdapterState, model: Any, config: LoRAConfig) -> Iterator[Placement]:
        projections = [m for m in config.attn_matrices if m != "o"]
        for layer in iter_layers(state, model):
            if layer.index in config.leave_out:
                continue
            name = layer.stack.name
            if config.selfattn_lora:
                for kind, attention in layer.attentions():
                    where = f"{name}.{kind}"
                    if attention.fused and projections:
                        module = layer.find(attention.qkv)
                        _, out_features, _ = projection_shape(module)
                        index = qkv_index(attention.qkv_layout, tuple(projections), out_features, state.num_heads)
                        yield Placement(module, layer.index, f"{where}.qkv", out_index=index)
                    elif projections:
                        for matrix in projections:
                            yield Placement(layer.find(getattr(attention, matrix)), layer.index, f"{where}.{matrix}")
                    if "o" in config.attn_matrices:
                        yield Placement(layer.find(attention.output), layer.index, f"{where}.output")
            if config.intermediate_lora:
                yield Placement(layer.find(layer.stack.ffn_in), layer.index, f"{name}.ffn_in")
            if config.output_lora:
                yield Placement(layer.find(layer.stack.ffn_out), layer.index, f"{name}.ffn_out")

    def build(self, config: LoRAConfig, placement: Placement, state: AdapterState, generator: Any) -> LoRA:
        in_features, out_features, _ = projection_shape(placement.module)
        return LoRA(config, in_features, out_features, placement.out_index, generator)
