"""Bottleneck configs with an invertible adapter on the input embeddings (Pfeiffer et al., 2020, MAD-X)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, register_config
from .bottleneck import DoubleSeqBnConfig, SeqBnConfig


InvertibleBlock = Literal["nice", "glow"]
InvertiblePlacement = Literal["token_embeddings", "stack_input", "embeddings_output"]


@dataclass(frozen=True)
class InvertibleOptions(AdapterConfig):
    """The invertible adapter: a coupling block (``"nice"``: additive, ``"glow"``: affine) on the token embeddings,
    whose inverse runs on the input of the LM head. Its subnetworks shrink their input by
    ``inv_adapter_reduction_factor`` and use the bottleneck's ``non_linearity``; ``init_weights='mam'`` starts them at
    zero, so the invertible adapter starts as the identity too.

    ``inv_adapter_placement``: where the block transforms the input. ``"token_embeddings"`` (the default): the output
    of every module that embeds tokens (an encoder-decoder's encoder and decoder alike), before any position embedding
    or layer norm. ``"stack_input"``: the input of the first layer of the model's first layer stack, after the
    position embeddings, the embedding layer norm and dropout; an encoder-decoder's decoder inputs are left as they
    are. That is where AdapterHub ``adapters`` places it (on BERT, GPT-2, T5, Llama; the two coincide on Llama).
    ``"embeddings_output"``: the output of the module that embeds the input, where the model has one of its own before
    the layers (BERT's ``embeddings``; the layout's ``embedding_module``): the same as ``"stack_input"`` but on ALBERT,
    whose embeddings (at the embedding width) the encoder projects to the hidden size before its first layer.
    AdapterHub places it there on ALBERT.
    """

    method: ClassVar[str] = "invertible"

    inv_adapter: InvertibleBlock = "nice"
    inv_adapter_reduction_factor: float = 2
    inv_adapter_placement: InvertiblePlacement = "token_embeddings"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.inv_adapter in InvertibleBlock.__args__,
            self,
            f"inv_adapter must be one of {InvertibleBlock.__args__}, got {self.inv_adapter!r} "
            "(for no invertible adapter use the config without '_inv')",
        )
        check(
            isinstance(self.inv_adapter_reduction_factor, (int, float)) and self.inv_adapter_reduction_factor > 0,
            self,
            f"inv_adapter_reduction_factor must be > 0, got {self.inv_adapter_reduction_factor!r}",
        )
        check(
            self.inv_adapter_placement in InvertiblePlacement.__args__,
            self,
            f"inv_adapter_placement must be one of {InvertiblePlacement.__args__}, got {self.inv_adapter_placement!r}",
        )


@register_config
@dataclass(frozen=True)
class SeqBnInvConfig(InvertibleOptions, SeqBnConfig):
    """``seq_bn`` plus an invertible adapter on the embeddings."""

    name: ClassVar[str] = "seq_bn_inv"


@register_config
@dataclass(frozen=True)
class DoubleSeqBnInvConfig(InvertibleOptions, DoubleSeqBnConfig):
    """``double_seq_bn`` plus an invertible adapter on the embeddings."""

    name: ClassVar[str] = "double_seq_bn_inv"
