"""GPTBigCode (StarCoder, SantaCoder): GPT-2's layer with nn.Linear projections (not Conv1D) and multi-query
attention: the fused c_attn is [q; k; v] with q for every head and one key/value head."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout
from .versions import transformers_at_least


def tiny_config():
    from transformers import GPTBigCodeConfig

    # multi_query=True, as every StarCoder and SantaCoder checkpoint: the config's num_key_value_heads is then 1.
    # With multi_query=False c_attn is [q_h, k_h, v_h] per head instead (a per_head layout), not registered here.
    return GPTBigCodeConfig(
        vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=64, multi_query=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="gpt_bigcode",
    embeddings="wte",
    config=(("multi_query", True),),  # a model without multi-query attention does not match: c_attn is per head there
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="h",
            self_attention=AttentionSpec(
                module="attn",
                output="attn.c_proj",
                qkv="attn.c_attn",
                qkv_layout="blocked",
                qkv_sizes="by_heads",  # q: n_head x head_dim, then k and v: 1 x head_dim each
            ),
            ffn_in="mlp.c_fc",
            ffn_out="mlp.c_proj",
            attention_norm="ln_1",
            ffn_norm="ln_2",
            norm_position="pre",
            causal=True,
        ),
    ),
)

# transformers 4.57 only: 5.0 made the blocks GradientCheckpointingLayer
UNSUPPORTED = (
    {}
    if transformers_at_least("5.0")
    else {
        "supports_gradient_checkpointing": "transformers 4.57's GPTBigCodeModel sets supports_gradient_checkpointing "
        "but never checkpoints: its blocks are plain modules its forward calls directly, so with checkpointing on "
        "the plain model recomputes nothing"
    }
)

SPEC = register(
    ArchitectureSpec(
        name="gpt_bigcode",
        modality="decoder",
        make_config=tiny_config,
        base_class="GPTBigCodeModel",
        layouts=(LAYOUT,),
        unsupported=UNSUPPORTED,
        **decoder_heads("GPTBigCode", ("ForCausalLM", "ForSequenceClassification", "ForTokenClassification")),
    ),
    module=__name__,
)
