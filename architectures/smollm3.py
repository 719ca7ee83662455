"""SmolLM3: Llama's modules; some layers skip rotary positions (NoPE)."""

from .llama import LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import SmolLM3Config

    return SmolLM3Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="smollm3",
        modality="decoder",
        make_config=tiny_config,
        base_class="SmolLM3Model",
        layouts=(LLAMA_LAYOUT,),
        **decoder_heads("SmolLM3"),
    ),
    module=__name__,
)
