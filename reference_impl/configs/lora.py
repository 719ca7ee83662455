"""Configs of the LoRA family: LoRA, DoRA and IA3. They share where they go; they differ in what they do there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config


LoRAInit = Literal["lora", "bert"]
IA3Init = Literal["ia3"]
LORA_MATRICES = ("q", "k", "v", "o")


@dataclass(frozen=True)
class LoRABaseConfig(AdapterConfig):
    """Where an adapter of the LoRA family goes; its ``variant`` says what it does to each projection it adapts.

    ``selfattn_lora`` adapts the attention matrices named in ``attn_matrices`` (any of q, k, v and o, the output
    projection) of every attention block; ``intermediate_lora`` the FFN input projection; ``output_lora`` the FFN
    output projection. ``init_weights_seed`` makes the initial weights reproducible.
    """

    method: ClassVar[str] = "lora"
    variant: ClassVar[str] = ""  # the strategy of reference_impl.methods.lora that implements the config

    selfattn_lora: bool = True
    intermediate_lora: bool = False
    output_lora: bool = False
    attn_matrices: tuple[str, ...] = ("q", "v")
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "attn_matrices", tuple(self.attn_matrices))
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


@register_config
@dataclass(frozen=True)
class LoRAConfig(LoRABaseConfig):
    """Hu et al. (2021): a low-rank update ``B @ A * alpha / r`` added to the chosen weight matrices.

    ``init_weights='lora'`` zero-initialises B, so the adapter starts as the identity; ``'bert'`` draws B from
    N(0, 0.02).
    """

    name: ClassVar[str] = "lora"
    variant: ClassVar[str] = "additive"

    r: int = 8
    alpha: float = 8
    dropout: float = 0.0
    init_weights: LoRAInit = "lora"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(isinstance(self.r, int) and self.r > 0, self, f"r (the rank) must be a positive integer, got {self.r!r}")
        check(self.alpha > 0, self, f"alpha must be > 0, got {self.alpha!r}")
        check(0.0 <= self.dropout < 1.0, self, f"dropout must be in [0, 1), got {self.dropout!r}")
        check_choice(self, "init_weights", LoRAInit)

    @property
    def scaling(self) -> float:
        return self.alpha / self.r

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "lora"


@register_config
@dataclass(frozen=True)
class DoRAConfig(LoRAConfig):
    """Liu et al. (2024), weight-decomposed LoRA: ``m * (W + B @ A * alpha / r) / ||W + B @ A * alpha / r||``.

    The norm is taken per output feature, as in the paper it is treated as a constant in the backward pass. The
    magnitude ``m`` starts as that norm, so with ``init_weights='lora'`` the adapter starts as the identity.
    """

    name: ClassVar[str] = "dora"
    variant: ClassVar[str] = "weight_decomposed"


@register_config
@dataclass(frozen=True)
class IA3Config(LoRABaseConfig):
    """Liu et al. (2022), (IA)^3: learned vectors that scale the keys, the values and the FFN activations.

    Each adapted projection's output is multiplied by its vector, feature by feature. As in AdapterHub, the FFN
    vector scales the output of the FFN input projection (``intermediate_lora``). ``init_weights='ia3'`` sets every
    vector to ones: the adapter starts as the identity.
    """

    name: ClassVar[str] = "ia3"
    variant: ClassVar[str] = "scaling"

    attn_matrices: tuple[str, ...] = ("k", "v")
    intermediate_lora: bool = True
    init_weights: IA3Init = "ia3"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self, "init_weights", IA3Init)

    @property
    def identity_at_init(self) -> bool:
        return True
