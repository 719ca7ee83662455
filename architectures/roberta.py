"""RoBERTa: BERT's modules with another embedding scheme (padding-offset positions)."""

from .bert import BERT_LAYOUT
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip


def roberta_heads(prefix: str) -> dict:
    """``head_classes`` and ``heads`` of a family that copies RoBERTa's heads (XLM-R, CamemBERT, Data2VecText...)."""
    mapped = (
        # RoBERTa classifies from the <s> token through dense -> tanh -> out_proj, not through the pooler
        StaticHead(f"{prefix}ForSequenceClassification", "classification", activation="tanh"),
        StaticHead(f"{prefix}ForMultipleChoice", "multiple_choice", use_pooler=True),
        StaticHead(f"{prefix}ForTokenClassification", "tagging"),
        StaticHead(f"{prefix}ForQuestionAnswering", "question_answering"),
        StaticHead(f"{prefix}ForMaskedLM", "masked_lm", activation="gelu"),
        StaticHead(f"{prefix}ForCausalLM", "causal_lm", activation="gelu", config={"is_decoder": True}),
    )
    return {"head_classes": tuple(m.class_name for m in mapped), "heads": HeadMap(mapped=mapped)}


SPEC = register(
    ArchitectureSpec(
        name="roberta",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="RobertaModel",
        layouts=(BERT_LAYOUT,),
        **roberta_heads("Roberta"),
    ),
    module=__name__,
)
