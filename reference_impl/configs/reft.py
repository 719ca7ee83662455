"""ReFT configs (Wu et al., 2024): low-rank interventions on the hidden states of chosen positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config


ReftInit = Literal["reft", "identity"]
REFT_ACTIVATIONS = (None, "identity", "relu", "gelu", "tanh", "silu", "swish")


@dataclass(frozen=True)
class ReftConfig(AdapterConfig):
    """An intervention ``h + R^T (act(W h + b) - R h)`` on the output of each layer in ``layers`` ("all" or indices,
    minus ``leave_out``), at the first ``prefix_positions`` and the last ``suffix_positions`` non-padding positions.

    ``R`` (r x hidden) has orthonormal rows when ``orthogonality`` is set (LoReFT); ``subtract_projection=False``
    drops the ``- R h`` term (DiReFT). ``tied_weights`` uses one intervention for prefix and suffix positions, else
    each has its own. ``init_weights="identity"`` starts the edit at exactly zero (``W = R``, or ``W = 0`` without the
    subtraction), which needs ``non_linearity=None`` when the projection is subtracted.
    """

    method: ClassVar[str] = "reft"

    layers: Literal["all"] | tuple[int, ...] = "all"
    prefix_positions: int = 3
    suffix_positions: int = 0
    r: int = 1
    orthogonality: bool = True
    tied_weights: bool = False
    subtract_projection: bool = True
    dropout: float = 0.05
    non_linearity: str | None = None
    init_weights: ReftInit = "reft"
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.layers != "all":
            check(
                isinstance(self.layers, (list, tuple)) and all(isinstance(i, int) and i >= 0 for i in self.layers),
                self,
                f"layers must be 'all' or a list of layer indices >= 0, got {self.layers!r}",
            )
            object.__setattr__(self, "layers", tuple(self.layers))
        for field_name in ("prefix_positions", "suffix_positions"):
            value = getattr(self, field_name)
            check(isinstance(value, int) and value >= 0, self, f"{field_name} must be an integer >= 0, got {value!r}")
        check(
            self.prefix_positions + self.suffix_positions > 0,
            self,
            "intervenes nowhere; set prefix_positions and/or suffix_positions > 0",
        )
        check(
            isinstance(self.r, int) and self.r >= 1, self, f"r (the rank) must be a positive integer, got {self.r!r}"
        )
        check(0.0 <= self.dropout < 1.0, self, f"dropout must be in [0, 1), got {self.dropout!r}")
        check(
            self.non_linearity in REFT_ACTIVATIONS,
            self,
            f"non_linearity must be one of {REFT_ACTIVATIONS}, got {self.non_linearity!r}",
        )
        check_choice(self, "init_weights", ReftInit)
        check(
            not (self.init_weights == "identity" and self.subtract_projection and self.linear_source is False),
            self,
            "init_weights='identity' with subtract_projection needs non_linearity=None: act(R h) - R h is not zero",
        )

    @property
    def linear_source(self) -> bool:
        return self.non_linearity in (None, "identity")

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "identity"

    def adapts(self, layer_index: int) -> bool:
        return layer_index not in self.leave_out and (self.layers == "all" or layer_index in self.layers)


@register_config
@dataclass(frozen=True)
class LoReftConfig(ReftConfig):
    """LoReFT: the projection has orthonormal rows."""

    name: ClassVar[str] = "loreft"


@register_config
@dataclass(frozen=True)
class NoReftConfig(ReftConfig):
    """NoReFT: LoReFT without the orthogonality constraint."""

    name: ClassVar[str] = "noreft"
    orthogonality: bool = False


@register_config
@dataclass(frozen=True)
class DiReftConfig(ReftConfig):
    """DiReFT: no orthogonality and no subtraction of the projection, ``h + R^T act(W h + b)``."""

    name: ClassVar[str] = "direft"
    orthogonality: bool = False
    subtract_projection: bool = False
