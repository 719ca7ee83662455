"""RoFormer: BERT's modules with rotary position embeddings applied to queries and keys inside attention."""

from .bert import BERT_LAYOUT
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, prefix_tuning_gaps


# A limit of the reference implementation, not of the architecture.
PREFIX_GAP = (
    "reference_impl puts prefix keys in front of the key projection's output; RoFormer rotates the projected keys by "
    "the sequence's sinusoidal positions after that, and the position table covers the sequence only, so the "
    "prefixed keys do not fit (a shape error); prefix keys must join after the rotation, which needs a copied "
    "attention forward reference_impl does not have"
)


def tiny_config():
    from transformers import RoFormerConfig

    return RoFormerConfig(
        vocab_size=128, embedding_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, pad_token_id=0,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="roformer",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="RoFormerModel",
        head_classes=(
            "RoFormerForSequenceClassification",
            "RoFormerForMultipleChoice",
            "RoFormerForTokenClassification",
            "RoFormerForQuestionAnswering",
            "RoFormerForMaskedLM",
            "RoFormerForCausalLM",
        ),
        layouts=(BERT_LAYOUT,),
        gaps=prefix_tuning_gaps(PREFIX_GAP),
        heads=HeadMap(
            mapped=(
                # dense -> hidden_act -> out_proj on the first token (RoFormer has no pooler)
                StaticHead("RoFormerForSequenceClassification", "classification", activation="config:hidden_act"),
                StaticHead("RoFormerForTokenClassification", "tagging"),
                StaticHead("RoFormerForQuestionAnswering", "question_answering"),
                StaticHead("RoFormerForMaskedLM", "masked_lm", activation="config:hidden_act"),
                StaticHead(
                    "RoFormerForCausalLM", "causal_lm", activation="config:hidden_act", config={"is_decoder": True}
                ),
            ),
            gaps={
                "RoFormerForMultipleChoice": "scores each choice through a sequence summary that ends in an "
                "activation after its output layer; a flexible head's output layer is linear",
            },
        ),
    ),
    module=__name__,
)
