"""XLM-RoBERTa: RoBERTa's modules and heads, trained on 100 languages."""

from .bert import BERT_LAYOUT
from .registry import register
from .roberta import poolerless_multiple_choice, roberta_heads
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="xlm_roberta",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="XLMRobertaModel",
        layouts=(BERT_LAYOUT,),
        model_type="xlm-roberta",
        **roberta_heads("XLMRoberta", poolerless_multiple_choice("XLMRoberta")),
    ),
    module=__name__,
)
