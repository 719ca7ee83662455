"""Qwen2 (and Qwen2.5): Llama's modules with biases on the q/k/v projections."""

from .llama import LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec
from .versions import transformers_has


def tiny_config():
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


# transformers 5.x lists JevForDecision among Qwen2's classes; 5.0.0 and 4.x do not have it
JEV = {
    "JevForDecision": "is the JEV decision model (its own family, config and head), which transformers lists for "
    "Qwen2 checkpoints that ship a JEV head; it is not a head class built on Qwen2Model"
}

SPEC = register(
    ArchitectureSpec(
        name="qwen2",
        modality="decoder",
        make_config=tiny_config,
        base_class="Qwen2Model",
        layouts=(LLAMA_LAYOUT,),
        **decoder_heads("Qwen2", **(JEV if transformers_has("JevForDecision") else {})),
    ),
    module=__name__,
)
