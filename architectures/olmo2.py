"""OLMo 2: Llama's attention and gated MLP with an RMS norm on queries and keys (over all heads) and its layer norms
moved to the end of each residual branch (x + norm(attn(x)), then x + norm(mlp(x))): norm position ``branch``."""

from dataclasses import replace

from .llama import LLAMA_DECODER, LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec
from .versions import transformers_at_least


def tiny_config():
    from transformers import Olmo2Config

    return Olmo2Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


# no norm before a sub-layer: each branch ends in its norm, and a bottleneck adapter sits on that norm's output
OLMO2_LAYOUT = replace(
    LLAMA_LAYOUT,
    name="olmo2",
    stacks=(
        replace(
            LLAMA_DECODER,
            attention_norm="post_attention_layernorm",
            ffn_norm="post_feedforward_layernorm",
            norm_position="branch",
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="olmo2",
        modality="decoder",
        make_config=tiny_config,
        base_class="Olmo2Model",
        layouts=(OLMO2_LAYOUT,),
        # Olmo2ForSequenceClassification is new in transformers 5.6
        **decoder_heads(
            "Olmo2", ("ForCausalLM", "ForSequenceClassification") if transformers_at_least("5.6") else ("ForCausalLM",)
        ),
    ),
    module=__name__,
)
