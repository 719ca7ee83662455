"""The LoRA family: adapters that change a linear projection (nn.Linear or transformers' Conv1D, transposed weight).

One placement logic and one merge/reset logic serve every member; what a member does to the projection is its
variant, a strategy object: ``Additive`` (LoRA), ``Scaling`` (IA3), ``WeightDecomposed`` (DoRA). A fused qkv
projection gets one ``ProjectionAdapter`` per adapted matrix (its own A and B, as AdapterHub has), each rewriting the
output features of its matrix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from architectures.spec import AttentionSpec

from ..configs.lora import LoRABaseConfig, LoRAConfig
from ..sites import site_of
from ..state import AdapterState, iter_layers
from .base import MethodFamily, Placement, SiteAdapter, register_family


_MERGE_ORDER = itertools.count(1)  # merges of one module are undone and redone in the order they happened


class ProjectionAdapter(SiteAdapter):
    """A LoRA-family adapter on one projection: it rewrites the output features ``out_index`` covers (None: all).

    The variant creates the parameters, computes the new covered output and the merged weight.
    """

    stage = 0

    def __init__(
        self,
        config: LoRABaseConfig,
        projection: nn.Module,
        out_index: torch.Tensor | None,
        variant: LoRAVariant,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.in_features, self.out_features, self.transposed = projection_shape(projection)
        self.covered = self.out_features if out_index is None else len(out_index)
        # Not a buffer: an index is never moved to the meta device (accelerate's init_empty_weights) or to a lower
        # precision, and moves to the device of the output it indexes when used.
        self._out_index = out_index
        # The adapted module, kept out of the module tree (its weights are the model's, not the adapter's); the
        # weight-decomposed variant reads its current weight in the forward pass.
        object.__setattr__(self, "projection", projection)
        self.variant = variant
        self.merged = False
        self.merge_order = 0
        self._before_merge: tuple[torch.Tensor, torch.Tensor | None] | None = None
        variant.create(self, config, generator)

    @property
    def out_index(self) -> torch.Tensor | None:
        device = self.projection.weight.device
        if self._out_index is not None and self._out_index.device != device and device.type != "meta":
            self._out_index = self._out_index.to(device)
        return self._out_index

    def apply(self, x: torch.Tensor, output: torch.Tensor, site: Any) -> torch.Tensor:
        return output if self.merged else self(x, output)

    def forward(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        if self._out_index is None:
            return self.variant.forward(self, x, output)
        covered = output.index_select(-1, self.out_index)
        return output.index_copy(-1, self.out_index, self.variant.forward(self, x, covered).to(output.dtype))

    def covered_weight(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The projection's weight rows (out, in) and bias entries of the covered output features."""
        weight = self.projection.weight.T if self.transposed else self.projection.weight
        bias = getattr(self.projection, "bias", None)
        if self.out_index is not None:
            weight = weight.index_select(0, self.out_index)
            bias = None if bias is None else bias.index_select(0, self.out_index)
        return weight, bias

    # ----- merging -----
    @torch.no_grad()
    def merge_into(self, module: nn.Module) -> None:
        if self.merged:
            return
        bias = getattr(module, "bias", None)
        # kept so that resetting restores the weight bit for bit, whatever the variant did to it
        self._before_merge = (module.weight.detach().clone(), None if bias is None else bias.detach().clone())
        weight, covered_bias = self.variant.merged_weight(self, *self.covered_weight())
        _write_covered(module, self, weight, covered_bias)
        self.merged = True
        self.merge_order = next(_MERGE_ORDER)

    @torch.no_grad()
    def unmerge_from(self, module: nn.Module, others_merged: bool = False) -> None:
        """Restore the weight from before this merge, then redo the merges made after it (exact for any variant)."""
        if not self.merged:
            return
        later = sorted(
            (a for a in _merged_on(module) if a.merge_order > self.merge_order), key=lambda a: a.merge_order
        )
        weight, bias = self._before_merge
        module.weight.copy_(weight)
        if bias is not None:
            module.bias.copy_(bias)
        self._before_merge, self.merged, self.merge_order = None, False, 0
        for adapter in later:
            adapter.merged = False
            adapter.merge_into(module)


class FusedProjectionAdapter(SiteAdapter):
    """A LoRA-family adapter on a fused qkv projection: one ``ProjectionAdapter`` per adapted matrix (``q``, ``k``,
    ``v``), each covering the output features of its matrix. The matrices' features are disjoint, so running them one
    after the other is running them at once."""

    stage = 0

    def __init__(self, matrices: dict[str, ProjectionAdapter]):
        super().__init__()
        self.matrices = nn.ModuleDict(matrices)
        self.in_features = next(iter(matrices.values())).in_features

    @property
    def merged(self) -> bool:
        return any(adapter.merged for adapter in self.matrices.values())

    def apply(self, x: torch.Tensor, output: torch.Tensor, site: Any) -> torch.Tensor:
        for adapter in self.matrices.values():
            output = adapter.apply(x, output, site)
        return output

    def merge_into(self, module: nn.Module) -> None:
        for adapter in self.matrices.values():
            adapter.merge_into(module)

    def unmerge_from(self, module: nn.Module, others_merged: bool = False) -> None:
        for adapter in reversed(list(self.matrices.values())):  # the last merged first: each restores its own before
            adapter.unmerge_from(module, others_merged)


def projection_adapters(adapter: nn.Module) -> list[ProjectionAdapter]:
    """The per-matrix adapters of a site entry of the LoRA family (one, or one per matrix of a fused qkv)."""
    if isinstance(adapter, FusedProjectionAdapter):
        return list(adapter.matrices.values())
    return [adapter] if isinstance(adapter, ProjectionAdapter) else []


def _merged_on(module: nn.Module) -> list[ProjectionAdapter]:
    site = site_of(module)
    entries = [] if site is None else [entry for family in site.values() for entry in family.values()]
    return [adapter for entry in entries for adapter in projection_adapters(entry) if adapter.merged]


def _write_covered(
    module: nn.Module, adapter: ProjectionAdapter, weight: torch.Tensor, bias: torch.Tensor | None
) -> None:
    full = module.weight.T if adapter.transposed else module.weight
    if adapter.out_index is not None:
        weight = full.index_copy(0, adapter.out_index, weight.to(full.dtype))
    module.weight.copy_(weight.T if adapter.transposed else weight)
    if bias is not None:
        if adapter.out_index is not None:
            bias = module.bias.index_copy(0, adapter.out_index, bias.to(module.bias.dtype))
        module.bias.copy_(bias)


# ----- variants -----
class LoRAVariant:
    """What a member of the LoRA family does to the covered output features of a projection."""

    def create(self, adapter: ProjectionAdapter, config: Any, generator: torch.Generator | None) -> None:
        """Create and initialise the adapter's parameters on ``adapter``."""
        raise NotImplementedError

    def forward(self, adapter: ProjectionAdapter, x: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
        """The new covered output, from the projection's input ``x`` and its covered output."""
        raise NotImplementedError

    def merged_weight(
        self, adapter: ProjectionAdapter, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The covered weight rows (out, in) and bias entries that give, unadapted, what the adapter gives."""
        raise NotImplementedError


class Additive(LoRAVariant):
    """LoRA: ``output + B(A(dropout(x))) * scaling``."""

    def create(self, adapter: ProjectionAdapter, config: LoRAConfig, generator: torch.Generator | None) -> None:
        adapter.lora_A = nn.Linear(adapter.in_features, config.r, bias=False)
        adapter.lora_B = nn.Linear(config.r, adapter.covered, bias=False)
        adapter.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        adapter.scaling = config.scaling
        with torch.no_grad():
            bound = 1 / math.sqrt(adapter.in_features)  # kaiming_uniform with a=sqrt(5), as nn.Linear does
            adapter.lora_A.weight.uniform_(-bound, bound, generator=generator)
            if config.init_weights == "lora":
                nn.init.zeros_(adapter.lora_B.weight)
            else:
                adapter.lora_B.weight.normal_(0.0, 0.02, generator=generator)

    def update(self, adapter: ProjectionAdapter, x: torch.Tensor) -> torch.Tensor:
        return adapter.lora_B(adapter.lora_A(adapter.dropout(x))) * adapter.scaling

    def delta_weight(self, adapter: ProjectionAdapter) -> torch.Tensor:
        return (adapter.lora_B.weight @ adapter.lora_A.weight) * adapter.scaling

    def forward(self, adapter: ProjectionAdapter, x: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
        return covered + self.update(adapter, x)

    def merged_weight(self, adapter, weight, bias):
        return weight + self.delta_weight(adapter).to(weight.dtype), bias


class Scaling(LoRAVariant):
    """IA3: ``output * vector``, feature by feature (the bias is scaled too)."""

    def create(self, adapter: ProjectionAdapter, config: Any, generator: torch.Generator | None) -> None:
        adapter.scale = nn.Parameter(torch.ones(adapter.covered))  # "ia3" init: the identity

    def forward(self, adapter: ProjectionAdapter, x: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
        return covered * adapter.scale

    def merged_weight(self, adapter, weight, bias):
        scale = adapter.scale.to(weight.dtype)
        return weight * scale[:, None], None if bias is None else bias * scale


class WeightDecomposed(Additive):
    """DoRA: ``m / ||W + dW|| * (W x + dW x) + b``, the norm per output feature, treated as a constant (detached)."""

    def create(self, adapter: ProjectionAdapter, config: LoRAConfig, generator: torch.Generator | None) -> None:
        super().create(adapter, config, generator)
        with torch.no_grad():
            weight, _ = adapter.covered_weight()
            norm = self._norm(adapter, weight.float())
        adapter.magnitude = nn.Parameter(norm)

    def _norm(self, adapter: ProjectionAdapter, weight: torch.Tensor) -> torch.Tensor:
        return (weight + self.delta_weight(adapter).to(weight.dtype)).norm(p=2, dim=1)

    def forward(self, adapter: ProjectionAdapter, x: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
        weight, bias = adapter.covered_weight()
        gain = adapter.magnitude / self._norm(adapter, weight).detach()
        base = covered if bias is None else covered - bias  # W x, without the bias
        return covered + (gain - 1) * base + gain * self.update(adapter, x)

    def merged_weight(self, adapter, weight, bias):
        combined = weight + self.delta_weight(adapter).to(weight.dtype)
        gain = adapter.magnitude.to(weight.dtype) / combined.norm(p=2, dim=1)
        return combined * gain[:, None], bias


VARIANTS: dict[str, LoRAVariant] = {
    "additive": Additive(),
    "scaling": Scaling(),
    "weight_decomposed": WeightDecomposed(),
}


# ----- where the family goes -----
def projection_shape(module: nn.Module) -> tuple[int, int, bool]:
    """(in_features, out_features, transposed) of an nn.Linear or a transformers Conv1D."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features, False
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return module.weight.shape[0], module.nf, True
    raise TypeError(
        f"the LoRA family adapts nn.Linear and transformers' Conv1D, not {type(module).__name__}; "
        "point the spec at a linear projection"
    )


def qkv_sizes(attention: AttentionSpec, out_features: int, num_heads: int, kv_heads: int | None) -> list[int]:
    """Output sizes of q, k and v in a fused qkv projection: equal thirds, or by the query and key/value heads."""
    if attention.qkv_sizes == "equal":
        return [out_features // 3] * 3
    if kv_heads is None or out_features % (num_heads + 2 * kv_heads):
        raise ValueError(
            f"{attention.qkv}: {out_features} outputs do not split into {num_heads} query heads and the config's "
            f"key/value heads ({kv_heads}) of one size"
        )
    head_dim = out_features // (num_heads + 2 * kv_heads)
    return [num_heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]


def qkv_index(layout: str, matrix: str, sizes: list[int], num_heads: int) -> torch.Tensor:
    """Output features of a fused qkv projection that belong to ``matrix`` (q, k or v), whose blocks have ``sizes``."""
    order = {"q": 0, "k": 1, "v": 2}[matrix]
    if layout == "blocked":  # [q; k; v]
        start = sum(sizes[:order])
        return torch.arange(start, start + sizes[order])
    head_dim = sizes[order] // num_heads  # per_head: [q_h, k_h, v_h] for each head h, all of one size
    starts = [h * 3 * head_dim + order * head_dim for h in range(num_heads)]
    return torch.cat([torch.arange(start, start + head_dim) for start in starts])


@register_family
class LoRAFamily(MethodFamily):
    name = "lora"
    mergeable = True
    # An update computed from the projection's input: it can be sliced by batch or sequence and averaged, but
    # there is no per-adapter output for AdapterFusion to attend over.
    supported_blocks = frozenset({"Stack", "Parallel", "Split", "BatchSplit", "Average"})
    variants: ClassVar[dict[str, LoRAVariant]] = VARIANTS

    def placements(self, state: AdapterState, model: Any, config: LoRABaseConfig) -> Iterator[Placement]:
        projections = [m for m in config.attn_matrices if m != "o"]
        kv_heads = state.spec.config_value(model.config, "num_key_value_heads", default=None)
        for layer in iter_layers(state, model):
            if layer.index in config.leave_out:
                continue
            name = layer.stack.name
            if config.selfattn_lora:
                for kind, attention in layer.attentions():
                    where = f"{name}.{kind}"
                    if attention.fused and projections:
                        module = layer.find(attention.qkv)
                        sizes = qkv_sizes(attention, projection_shape(module)[1], state.num_heads, kv_heads)
                        outputs = {m: qkv_index(attention.qkv_layout, m, sizes, state.num_heads) for m in projections}
                        yield Placement(module, layer.index, f"{where}.qkv", fused_outputs=outputs)
                    elif projections:
                        for matrix in projections:
                            yield Placement(layer.find(getattr(attention, matrix)), layer.index, f"{where}.{matrix}")
                    if "o" in config.attn_matrices:
                        yield Placement(layer.find(attention.output), layer.index, f"{where}.output")
            if config.intermediate_lora:
                yield Placement(layer.find(layer.stack.ffn_in), layer.index, f"{name}.ffn_in")
            if config.output_lora:
                yield Placement(layer.find(layer.stack.ffn_out), layer.index, f"{name}.ffn_out")

    def build(
        self, config: LoRABaseConfig, placement: Placement, state: AdapterState, generator: Any
    ) -> ProjectionAdapter | FusedProjectionAdapter:
        try:
            variant = self.variants[config.variant]
        except KeyError:
            raise TypeError(
                f"{type(config).__name__}: the LoRA family has no variant {config.variant!r}; "
                f"known: {', '.join(self.variants)}"
            ) from None
        if placement.fused_outputs is None:
            return ProjectionAdapter(config, placement.module, None, variant, generator)
        return FusedProjectionAdapter(
            {
                matrix: ProjectionAdapter(config, placement.module, index, variant, generator)
                for matrix, index in placement.fused_outputs.items()
            }
        )
