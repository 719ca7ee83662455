"""Bottleneck adapter configs: sequential (Pfeiffer, Houlsby) and parallel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config


NonLinearity = Literal["relu", "gelu", "tanh", "swish", "silu", "identity"]
BottleneckInit = Literal["bert", "mam"]


@dataclass(frozen=True)
class BnConfig(AdapterConfig):
    """A bottleneck adapter: down-projection, non-linearity, up-projection, added to its input (residual).

    ``mh_adapter`` places one after the attention output, ``output_adapter`` one after the FFN output; ``is_parallel``
    feeds the adapter with the FFN input instead and adds ``scaling`` times its output to the FFN output.
    ``reduction_factor`` divides the hidden size to give the bottleneck size. ``init_weights='mam'`` zero-initialises
    the up-projection, so the adapter starts as the identity; ``'bert'`` draws both projections from N(0, 0.01).
    """

    method: ClassVar[str] = "bottleneck"

    mh_adapter: bool = False
    output_adapter: bool = True
    is_parallel: bool = False
    reduction_factor: float = 16
    non_linearity: NonLinearity = "relu"
    scaling: float = 1.0
    init_weights: BottleneckInit = "bert"
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.mh_adapter or self.output_adapter, self, "enable mh_adapter, output_adapter or both")
        check(
            not (self.is_parallel and self.mh_adapter),
            self,
            "a parallel adapter sits beside the FFN only; set mh_adapter=False",
        )
        check(
            isinstance(self.reduction_factor, (int, float)) and self.reduction_factor > 0,
            self,
            f"reduction_factor must be > 0, got {self.reduction_factor!r}",
        )
        check_choice(self, "non_linearity", NonLinearity)
        check_choice(self, "init_weights", BottleneckInit)

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "mam"


@register_config
@dataclass(frozen=True)
class SeqBnConfig(BnConfig):
    """Pfeiffer et al. (2020): one sequential bottleneck adapter after each FFN."""

    name: ClassVar[str] = "seq_bn"


@register_config
@dataclass(frozen=True)
class DoubleSeqBnConfig(BnConfig):
    """Houlsby et al. (2019): sequential bottleneck adapters after the attention block and after the FFN."""

    name: ClassVar[str] = "double_seq_bn"
    mh_adapter: bool = True
    non_linearity: NonLinearity = "swish"


@register_config
@dataclass(frozen=True)
class ParBnConfig(BnConfig):
    """He et al. (2021): a bottleneck adapter in parallel to each FFN, scaled by ``scaling``."""

    name: ClassVar[str] = "par_bn"
    is_parallel: bool = True
    reduction_factor: float = 2
    scaling: float = 4.0
    init_weights: BottleneckInit = "mam"
