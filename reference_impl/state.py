"""What the reference implementation keeps per model: the spec, the resolved layout and the adapters' configs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from architectures.live import get_path, layers_of
from architectures.spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout

from .composition import CompositionBlock
from .configs import AdapterConfig
from .fusion import FusionConfig


@dataclass
class AdapterState:
    spec: ArchitectureSpec
    layout: ModuleLayout
    hidden_size: int
    num_heads: int
    configs: dict[str, AdapterConfig] = field(default_factory=dict)
    active: CompositionBlock | None = None
    fusions: dict[str, FusionConfig] = field(default_factory=dict)  # by fusion name ("a,b")
    inputs_parallelized: bool = False  # generate() replicated the inputs for a Parallel block already
    record_fusion_attentions: bool = False
    # the batch size of the forward pass running (after any Parallel replication): a layer that flattens batch and
    # sequence into one axis (OPT's FFN) has its sites' activations cut on that (batch, sequence) grid
    batch_rows: int | None = None


@dataclass(frozen=True)
class Layer:
    """One transformer layer of the model with its global index (encoder layers first, then the decoder's)."""

    index: int
    stack: LayerStackSpec
    module: nn.Module

    def find(self, path: str) -> nn.Module:
        return get_path(self.module, path)

    def attentions(self) -> Iterator[tuple[str, AttentionSpec]]:
        yield "self_attention", self.stack.self_attention
        if self.stack.cross_attention is not None:
            yield "cross_attention", self.stack.cross_attention


def iter_layers(state: AdapterState, model: Any) -> Iterator[Layer]:
    index = 0
    for stack in state.layout.stacks:
        for module in layers_of(stack, model):
            yield Layer(index, stack, module)
            index += 1
