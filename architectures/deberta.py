"""DeBERTa (v1): disentangled relative attention with a fused, per-head interleaved q/k/v projection."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import DebertaConfig

    return DebertaConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, relative_attention=True, pos_att_type="p2c|c2p", max_relative_positions=16,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="deberta",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="DebertaModel",
        head_classes=(
            "DebertaForSequenceClassification",
            "DebertaForTokenClassification",
            "DebertaForQuestionAnswering",
            "DebertaForMaskedLM",
        ),
        layouts=(
            ModuleLayout(
                name="deberta",
                embeddings="embeddings.word_embeddings",
                stacks=(
                    LayerStackSpec(
                        name="encoder",
                        path="encoder.layer",
                        self_attention=AttentionSpec(
                            module="attention.self",
                            output="attention.output.dense",
                            qkv="attention.self.in_proj",
                            # in_proj's rows are [q_h, k_h, v_h] for each head h in turn
                            qkv_layout="per_head",
                        ),
                        ffn_in="intermediate.dense",
                        ffn_out="output.dense",
                        attention_norm="attention.output.LayerNorm",
                        ffn_norm="output.LayerNorm",
                        norm_position="post",
                    ),
                ),
            ),
        ),
        gaps={
            "accelerate": "transformers' DeBERTa reads its relative-position embedding weight outside that module's "
            "forward, so under accelerate's cpu_offload the attention gets a weight still on the meta device: the plain "
            "model fails the same way, with or without adapters",
        },
        heads=HeadMap(
            mapped=(
                # the ContextPooler (dense + pooler_hidden_act on the first token) is the head's hidden layer
                StaticHead(
                    "DebertaForSequenceClassification", "classification", activation="config:pooler_hidden_act"
                ),
                StaticHead("DebertaForTokenClassification", "tagging"),
                StaticHead("DebertaForQuestionAnswering", "question_answering"),
                StaticHead("DebertaForMaskedLM", "masked_lm", activation="config:hidden_act"),
            ),
        ),
    ),
    module=__name__,
)
