"""Compacter configs: bottleneck adapters whose projections are PHM layers (Mahabadi et al., 2021)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config
from .bottleneck import DoubleSeqBnConfig, NonLinearity, SeqBnConfig


RuleInit = Literal["normal", "uniform"]
BlockInit = Literal["glorot-uniform", "glorot-normal", "normal"]


@dataclass(frozen=True)
class PhmOptions(AdapterConfig):
    """How the PHM projections are built.

    ``phm_dim`` (n) must divide the hidden size and the bottleneck size. ``shared_phm_rule`` keeps one set of n rule
    matrices for every PHM layer of the adapter (``factorized_phm_rule`` makes each rule rank one);
    ``shared_W_phm`` shares the blocks as well. ``factorized_phm_W`` makes each block the product of two factors of
    rank ``phm_rank``. ``phm_c_init`` initialises the rules (``normal`` with std ``phm_init_range``, or uniform in
    [-1, 1]); ``hypercomplex_nonlinearity`` the blocks.
    """

    method: ClassVar[str] = "compacter"

    phm_dim: int = 4
    shared_phm_rule: bool = True
    factorized_phm_rule: bool = False
    shared_W_phm: bool = False
    factorized_phm_W: bool = True
    phm_rank: int = 1
    phm_c_init: RuleInit = "normal"
    phm_init_range: float = 0.0001
    hypercomplex_nonlinearity: BlockInit = "glorot-uniform"
    phm_bias: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check(isinstance(self.phm_dim, int) and self.phm_dim >= 1, self, f"phm_dim must be >= 1, got {self.phm_dim!r}")
        check(
            isinstance(self.phm_rank, int) and self.phm_rank >= 1,
            self,
            f"phm_rank must be >= 1, got {self.phm_rank!r}",
        )
        check_choice(self, "phm_c_init", RuleInit)
        check_choice(self, "hypercomplex_nonlinearity", BlockInit)
        check(self.phm_init_range > 0, self, f"phm_init_range must be > 0, got {self.phm_init_range!r}")

    @property
    def shares_weights(self) -> bool:
        return self.shared_phm_rule or self.shared_W_phm


@register_config
@dataclass(frozen=True)
class CompacterConfig(PhmOptions, DoubleSeqBnConfig):
    """Compacter: PHM bottleneck adapters after the attention block and after the FFN (Houlsby placement)."""

    name: ClassVar[str] = "compacter"
    reduction_factor: float = 32
    non_linearity: NonLinearity = "gelu"


@register_config
@dataclass(frozen=True)
class CompacterPlusPlusConfig(PhmOptions, SeqBnConfig):
    """Compacter++: one PHM bottleneck adapter after each FFN (Pfeiffer placement)."""

    name: ClassVar[str] = "compacter++"
    reduction_factor: float = 32
    non_linearity: NonLinearity = "gelu"
