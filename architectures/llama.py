"""Llama: pre-norm causal decoder with rotary positions and grouped-query attention (fewer key/value heads)."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import LlamaConfig

    # 4 query heads share 2 key/value heads: the grouped-query case every method has to get right
    return LlamaConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="llama",
        modality="decoder",
        make_config=tiny_config,
        base_class="LlamaModel",
        head_classes=(
            "LlamaForCausalLM",
            "LlamaForSequenceClassification",
            "LlamaForTokenClassification",
            "LlamaForQuestionAnswering",
        ),
        layouts=(
            ModuleLayout(
                name="llama",
                embeddings="embed_tokens",
                stacks=(
                    LayerStackSpec(
                        name="decoder",
                        path="layers",
                        self_attention=AttentionSpec(
                            module="self_attn",
                            output="self_attn.o_proj",
                            q="self_attn.q_proj",
                            k="self_attn.k_proj",
                            v="self_attn.v_proj",
                        ),
                        # the gated MLP is down(act(gate(x)) * up(x)): up_proj is its input projection
                        ffn_in="mlp.up_proj",
                        ffn_out="mlp.down_proj",
                        attention_norm="input_layernorm",
                        ffn_norm="post_attention_layernorm",
                        norm_position="pre",
                        causal=True,
                    ),
                ),
            ),
        ),
        heads=HeadMap(
            mapped=(
                StaticHead("LlamaForCausalLM", "causal_lm"),
                StaticHead("LlamaForSequenceClassification", "classification"),  # reads the last non-pad token
                StaticHead("LlamaForTokenClassification", "tagging"),
                StaticHead("LlamaForQuestionAnswering", "question_answering"),
            ),
        ),
    ),
    module=__name__,
)
