"""Phi-3: Llama's layer order with a fused q/k/v projection ([q; k; v]) and a fused gate/up projection."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import Phi3Config

    # as many key/value heads as query heads, as Phi-3-mini: with fewer (Phi-3-medium) the fused projection's q, k
    # and v blocks differ in size, which a qkv layout cannot state yet
    return Phi3Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="phi3",
    embeddings="embed_tokens",
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="layers",
            self_attention=AttentionSpec(
                module="self_attn", output="self_attn.o_proj", qkv="self_attn.qkv_proj", qkv_layout="blocked"
            ),
            ffn_in="mlp.gate_up_proj",  # gate and up fused: [gate; up]
            ffn_out="mlp.down_proj",
            attention_norm="input_layernorm",
            ffn_norm="post_attention_layernorm",
            norm_position="pre",
            causal=True,
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="phi3",
        modality="decoder",
        make_config=tiny_config,
        base_class="Phi3Model",
        layouts=(LAYOUT,),
        **decoder_heads("Phi3", ("ForCausalLM", "ForSequenceClassification", "ForTokenClassification")),
    ),
    module=__name__,
)
