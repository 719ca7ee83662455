"""LoRA: a low-rank update of a linear projection, on nn.Linear and on transformers' Conv1D (transposed weight)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..configs import LoRAConfig


class LoRA(nn.Module):
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

    def forward(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        update = self.lora_B(self.lora_A(self.dropout(x))) * self.scaling
        if self.out_index is None:
            return output + update
        return output.index_add(-1, self.out_index, update.to(output.dtype))

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
