"""Mistral: Llama's modules with sliding-window attention (the window is wider than the tiny inputs)."""

from .llama import LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import MistralConfig

    return MistralConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        sliding_window=16,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="mistral",
        modality="decoder",
        make_config=tiny_config,
        base_class="MistralModel",
        layouts=(LLAMA_LAYOUT,),
        **decoder_heads("Mistral"),
    ),
    module=__name__,
)
