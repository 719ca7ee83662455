"""GPT-NeoX (Pythia): a causal decoder with a fused, per-head interleaved q/k/v projection and, by default, parallel
attention and MLP branches (x + attn(ln1(x)) + mlp(ln2(x)))."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import GPTNeoXConfig

    # rotary_pct 0.25, as in every Pythia checkpoint: transformers 5.0 to 5.4 reload any other value as 0.25 (a plain
    # model's save_pretrained round trip changes its outputs; fixed in 5.5), which is no adapter's doing
    return GPTNeoXConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, rotary_pct=0.25, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="gpt_neox",
    embeddings="embed_in",
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="layers",
            self_attention=AttentionSpec(
                module="attention",
                output="attention.dense",
                qkv="attention.query_key_value",
                qkv_layout="per_head",  # rows are [q_h, k_h, v_h] for each head h
            ),
            ffn_in="mlp.dense_h_to_4h",
            ffn_out="mlp.dense_4h_to_h",
            attention_norm="input_layernorm",
            ffn_norm="post_attention_layernorm",
            norm_position="pre",
            causal=True,
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="gpt_neox",
        modality="decoder",
        make_config=tiny_config,
        base_class="GPTNeoXModel",
        layouts=(LAYOUT,),
        **decoder_heads("GPTNeoX"),
    ),
    module=__name__,
)
