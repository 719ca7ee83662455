"""Data2Vec (text): RoBERTa's modules and heads, trained by self-distillation."""

from .bert import BERT_LAYOUT
from .registry import register
from .roberta import roberta_heads
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import Data2VecTextConfig

    return Data2VecTextConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="data2vec_text",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="Data2VecTextModel",
        layouts=(BERT_LAYOUT,),
        model_type="data2vec-text",
        **roberta_heads("Data2VecText"),
    ),
    module=__name__,
)
