"""Phi-1 / Phi-2: a causal decoder with partial rotary positions whose attention and MLP run in parallel off one
layer norm (x + attn(ln(x)) + mlp(ln(x)))."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import PhiConfig

    return PhiConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="phi",
    embeddings="embed_tokens",
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="layers",
            self_attention=AttentionSpec(
                module="self_attn",
                output="self_attn.dense",
                q="self_attn.q_proj",
                k="self_attn.k_proj",
                v="self_attn.v_proj",
            ),
            ffn_in="mlp.fc1",
            ffn_out="mlp.fc2",
            # one norm feeds both branches: it is the attention's and the FFN's
            attention_norm="input_layernorm",
            ffn_norm="input_layernorm",
            norm_position="pre",
            causal=True,
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="phi",
        modality="decoder",
        make_config=tiny_config,
        base_class="PhiModel",
        layouts=(LAYOUT,),
        **decoder_heads("Phi", ("ForCausalLM", "ForSequenceClassification", "ForTokenClassification")),
    ),
    module=__name__,
)
