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


SPEC = register(
    ArchitectureSpec(
        name="roberta",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="RobertaModel",
        head_classes=(
            "RobertaForSequenceClassification",
            "RobertaForMultipleChoice",
            "RobertaForTokenClassification",
            "RobertaForQuestionAnswering",
            "RobertaForMaskedLM",
            "RobertaForCausalLM",
        ),
        layouts=(BERT_LAYOUT,),
        heads=HeadMap(
            mapped=(
                # RoBERTa classifies from the <s> token through dense -> tanh -> out_proj, not through the pooler
                StaticHead("RobertaForSequenceClassification", "classification", activation="tanh"),
                StaticHead("RobertaForMultipleChoice", "multiple_choice", use_pooler=True),
                StaticHead("RobertaForTokenClassification", "tagging"),
                StaticHead("RobertaForQuestionAnswering", "question_answering"),
                StaticHead("RobertaForMaskedLM", "masked_lm", activation="gelu"),
                StaticHead("RobertaForCausalLM", "causal_lm", activation="gelu", config={"is_decoder": True}),
            ),
        ),
    ),
    module=__name__,
)
