"""LoRA configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, register_config


LoRAInit = Literal["lora", "bert"]
LORA_MATRICES = ("q", "k", "v", "o")


@register_config
@dataclass(frozen=True)
class LoRAConfig(AdapterConfig):
    """Hu et al. (2021): a low-rank update ``B @ A * alpha / r`` added to the chosen weight matrices.

    ``selfattn_lora`` adapts the attention matrices named in ``attn_matrices`` (any of q, k, v and o, the output
    projection) of every attention block; ``intermediate_lora`` the FFN input projection; ``output_lora`` the FFN
    output projection. ``init_weights='lora'`` zero-initialises B, so the adapter starts as the identity.
    """

    name: ClassVar[str] = "lora"
    method: ClassVar[str] = "lora"

    r: int = 8
    alpha: float = 8
    dropout: float = 0.0
    selfattn_lora: bool = True
    intermediate_lora: bool = False
    output_lora: bool = False
    attn_matrices: tuple[str, ...] = ("q", "v")
    init_weights: LoRAInit = "lora"
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "attn_matrices", tuple(self.attn_matrices))
        check(isinstance(self.r, int) and self.r > 0, self, f"r (the rank) must be a positive integer, got {self.r!r}")
        check(self.alpha > 0, self, f"alpha must be > 0, got {self.alpha!r}")
        check(0.0 <= self.dropout < 1.0, self, f"dropout must be in [0, 1), got {self.dropout!r}")
        unknown = [m for m in self.attn_matrices if m not in LORA_MATRICES]
        check(not unknown, self, f"unknown attn_matrices {unknown}; choose from {list(LORA_MATRICES)}")
        check(
            len(set(self.attn_matrices)) == len(self.attn_matrices),
            self,
            f"attn_matrices has duplicates: {self.attn_matrices}",
        )
        check(
            (self.selfattn_lora and self.attn_matrices) or self.intermediate_lora or self.output_lora,
            self,
            "adapts no matrix; enable selfattn_lora with attn_matrices, intermediate_lora or output_lora",
        )
        check(
            self.init_weights in LoRAInit.__args__,
            self,
            f"init_weights must be one of {LoRAInit.__args__}, got {self.init_weights!r}",
        )

    @property
    def scaling(self) -> float:
        return self.alpha / self.r

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "lora"
