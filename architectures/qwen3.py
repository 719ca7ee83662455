"""Qwen3: Llama's modules with an RMS norm on queries and keys inside attention (per head, before rotary)."""

from .llama import LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        head_dim=8,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="qwen3",
        modality="decoder",
        make_config=tiny_config,
        base_class="Qwen3Model",
        layouts=(LLAMA_LAYOUT,),
        **decoder_heads("Qwen3"),
    ),
    module=__name__,
)
