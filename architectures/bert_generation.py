"""BertGeneration: BERT's encoder modules without a pooler or token types, as an encoder or a causal decoder."""

from .bert import BERT_LAYOUT
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import BertGenerationConfig

    return BertGenerationConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="bert_generation",
        model_type="bert-generation",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="BertGenerationEncoder",
        head_classes=("BertGenerationDecoder",),
        layouts=(BERT_LAYOUT,),
        heads=HeadMap(
            mapped=(StaticHead("BertGenerationDecoder", "causal_lm", config={"is_decoder": True}),),
            # transformers has no masked-LM class of this family to check a masked-LM head against: none offered
            head_types=(
                "classification",
                "multilabel_classification",
                "tagging",
                "multiple_choice",
                "question_answering",
                "causal_lm",
            ),
        ),
    ),
    module=__name__,
)
