"""Falcon: a causal decoder with rotary positions, a fused per-head q/k/v projection and, as Falcon-7B, parallel
attention and MLP branches off one layer norm (x + attn(ln(x)) + mlp(ln(x)))."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout, prefix_tuning_gaps


# A limit of the reference implementation, not of the architecture.
PREFIX_GAP = (
    "reference_impl reaches an attention through transformers' attention functions or through separate key and "
    "value projections; FalconAttention has neither (a fused query_key_value, and it calls torch's "
    "scaled_dot_product_attention or its own score product directly), so reaching it needs a copied attention "
    "forward reference_impl does not have"
)


def tiny_config():
    from transformers import FalconConfig

    # multi_query=False: one key/value head per query head, so the fused projection is [q_h, k_h, v_h] per head.
    # Falcon-7B's multi-query attention (q for every head, then one k and one v) and Falcon-40B's grouped layout have
    # q, k and v blocks of different sizes, which a qkv layout cannot state yet (as Phi-3-medium).
    return FalconConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
        multi_query=False, parallel_attn=True, alibi=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="falcon",
    embeddings="word_embeddings",
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="h",
            self_attention=AttentionSpec(
                module="self_attention",
                output="self_attention.dense",
                qkv="self_attention.query_key_value",
                qkv_layout="per_head",  # rows are [q_h, k_h, v_h] for each head h
            ),
            ffn_in="mlp.dense_h_to_4h",
            ffn_out="mlp.dense_4h_to_h",
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
        name="falcon",
        modality="decoder",
        make_config=tiny_config,
        base_class="FalconModel",
        layouts=(LAYOUT,),
        gaps=prefix_tuning_gaps(PREFIX_GAP),
        **decoder_heads("Falcon"),
    ),
    module=__name__,
)
