"""RoBERTa: BERT's modules with another embedding scheme (padding-offset positions)."""

from collections.abc import Mapping

from .bert import BERT_LAYOUT
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec
from .versions import transformers_in


def tiny_config():
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip


def roberta_heads(prefix: str, broken: Mapping[str, str] | None = None) -> dict:
    """``head_classes`` and ``heads`` of a family that copies RoBERTa's heads (XLM-R, CamemBERT, Data2VecText...).

    ``broken`` maps a class's suffix (``"ForMultipleChoice"``) to why the installed transformers' class is unusable: it
    is then a declared gap, not mapped.
    """
    gaps = {f"{prefix}{suffix}": reason for suffix, reason in (broken or {}).items()}
    every = (
        # RoBERTa classifies from the <s> token through dense -> tanh -> out_proj, not through the pooler
        StaticHead(f"{prefix}ForSequenceClassification", "classification", activation="tanh"),
        StaticHead(f"{prefix}ForMultipleChoice", "multiple_choice", use_pooler=True),
        StaticHead(f"{prefix}ForTokenClassification", "tagging"),
        StaticHead(f"{prefix}ForQuestionAnswering", "question_answering"),
        StaticHead(f"{prefix}ForMaskedLM", "masked_lm", activation="gelu"),
        StaticHead(f"{prefix}ForCausalLM", "causal_lm", activation="gelu", config={"is_decoder": True}),
    )
    mapped = tuple(m for m in every if m.class_name not in gaps)
    return {"head_classes": tuple(m.class_name for m in every), "heads": HeadMap(mapped=mapped, gaps=gaps)}


def poolerless_multiple_choice(prefix: str) -> dict[str, str]:
    """The ``broken`` entry of the XLM-R copies whose multiple-choice class transformers 5.0 to 5.13 broke."""
    if not transformers_in("5.0", "5.14"):
        return {}
    return {
        "ForMultipleChoice": f"transformers 5.0 to 5.13 build {prefix}ForMultipleChoice's {prefix}Model without its "
        "pooler and then read the pooled output, so the class fails on every input (IndexError; fixed in 5.14)"
    }


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
