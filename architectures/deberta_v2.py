"""DeBERTa-v2 / v3: DeBERTa's disentangled attention with separate q/k/v projections (query_proj, ...)."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout, prefix_tuning_gaps


# A limit of the reference implementation, not of the architecture (AdapterHub copies the attention forward for it).
PREFIX_GAP = (
    "reference_impl puts prefix keys in front of the key projection's output; DeBERTa-v2's attention then scores "
    "relative positions (c2p / p2c) for every key, and its position table is sized by the sequence, so the prefixed "
    "keys do not fit (a shape error). Reaching it needs a copied attention forward, as reference_impl has for "
    "DeBERTa v1 only"
)


def tiny_config():
    from transformers import DebertaV2Config

    return DebertaV2Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, relative_attention=True, pos_att_type=["p2c", "c2p"], max_relative_positions=16,
        position_buckets=8, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="deberta_v2",
    embeddings="embeddings.word_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.layer",
            self_attention=AttentionSpec(
                module="attention.self",
                output="attention.output.dense",
                q="attention.self.query_proj",
                k="attention.self.key_proj",
                v="attention.self.value_proj",
            ),
            ffn_in="intermediate.dense",
            ffn_out="output.dense",
            attention_norm="attention.output.LayerNorm",
            ffn_norm="output.LayerNorm",
            norm_position="post",
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="deberta_v2",
        model_type="deberta-v2",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="DebertaV2Model",
        head_classes=(
            "DebertaV2ForSequenceClassification",
            "DebertaV2ForMultipleChoice",
            "DebertaV2ForTokenClassification",
            "DebertaV2ForQuestionAnswering",
            "DebertaV2ForMaskedLM",
        ),
        layouts=(LAYOUT,),
        gaps={
            "accelerate": "transformers' DeBERTa-v2 reads its relative-position embedding weight outside that module's "
            "forward, so under accelerate's cpu_offload the attention gets a weight still on the meta device: the plain "
            "model fails the same way (NotImplementedError: Cannot copy out of meta tensor), with or without adapters",
            **prefix_tuning_gaps(PREFIX_GAP),
        },
        heads=HeadMap(
            mapped=(
                # the ContextPooler (dense + pooler_hidden_act on the first token) is the head's hidden layer
                StaticHead(
                    "DebertaV2ForSequenceClassification", "classification", activation="config:pooler_hidden_act"
                ),
                StaticHead("DebertaV2ForMultipleChoice", "multiple_choice", activation="config:pooler_hidden_act"),
                StaticHead("DebertaV2ForTokenClassification", "tagging"),
                StaticHead("DebertaV2ForQuestionAnswering", "question_answering"),
                StaticHead("DebertaV2ForMaskedLM", "masked_lm", activation="config:hidden_act"),
            ),
        ),
    ),
    module=__name__,
)
