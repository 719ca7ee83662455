"""Prefix tuning configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config


PrefixNonLinearity = Literal["tanh", "relu", "gelu", "swish", "silu"]


@register_config
@dataclass(frozen=True)
class PrefixTuningConfig(AdapterConfig):
    """Li & Liang (2021): ``prefix_length`` trained key/value vectors put in front of every attention's own.

    The prefixes of all layers of one attention kind (encoder self-attention, decoder self-attention, cross-attention)
    come from one reparameterisation: a ``prefix_length`` x hidden embedding, then an MLP with a ``bottleneck_size``
    hidden layer that outputs every layer's keys and values. ``flat=True`` trains the keys and values directly.
    ``encoder_prefix`` adds prefixes to the encoder's self-attention, ``cross_prefix`` to the decoder's
    cross-attention (encoder-decoder models); a decoder's self-attention always gets them. ``use_gating`` (UniPELT)
    gives each layer a gate g = sigmoid(w . x + b) per query token x of the attention, which scales the prefix keys
    and values as that token sees them (g K_p, g V_p: AdapterHub's formula, with a gate per token rather than one
    averaged over the sequence). Only attentions that dispatch through transformers' attention functions and
    DeBERTa's take a gated prefix. A prefix changes the outputs from the start: there is no identity init.
    """

    name: ClassVar[str] = "prefix_tuning"
    method: ClassVar[str] = "prefix_tuning"

    prefix_length: int = 30
    bottleneck_size: int = 512
    non_linearity: PrefixNonLinearity = "tanh"
    dropout: float = 0.0
    flat: bool = False
    encoder_prefix: bool = True
    cross_prefix: bool = True
    use_gating: bool = False
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            isinstance(self.prefix_length, int) and self.prefix_length > 0,
            self,
            f"prefix_length must be a positive integer, got {self.prefix_length!r}",
        )
        check(
            isinstance(self.bottleneck_size, int) and self.bottleneck_size > 0,
            self,
            f"bottleneck_size must be a positive integer, got {self.bottleneck_size!r}",
        )
        check_choice(self, "non_linearity", PrefixNonLinearity)
        check(0.0 <= self.dropout < 1.0, self, f"dropout must be in [0, 1), got {self.dropout!r}")
