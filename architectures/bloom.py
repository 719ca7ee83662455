"""BLOOM: a pre-norm causal decoder with ALiBi position biases and a fused, per-head interleaved q/k/v projection."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout, prefix_tuning_gaps


# A limit of the reference implementation, not of the architecture.
PREFIX_GAP = (
    "reference_impl reaches an attention through transformers' attention functions or through separate key and "
    "value projections; BloomAttention has neither (a fused query_key_value and its own ALiBi score product), so "
    "reaching it needs a copied attention forward reference_impl does not have"
)


def tiny_config():
    from transformers import BloomConfig

    return BloomConfig(
        vocab_size=128, hidden_size=32, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2, pad_token_id=0
    )


LAYOUT = ModuleLayout(
    name="bloom",
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
            attention_norm="input_layernorm",
            ffn_norm="post_attention_layernorm",
            norm_position="pre",
            causal=True,
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="bloom",
        modality="decoder",
        make_config=tiny_config,
        base_class="BloomModel",
        layouts=(LAYOUT,),
        gaps=prefix_tuning_gaps(PREFIX_GAP),
        **decoder_heads("Bloom"),
    ),
    module=__name__,
)
