"""XLM-RoBERTa-XL: RoBERTa's modules and heads in a pre-norm layer; the attention's norm sits inside the attention
block (``attention.self_attn_layer_norm``), the FFN's at the layer (``LayerNorm``), and the encoder ends in a norm."""

import dataclasses

from .bert import BERT_LAYOUT
from .registry import register
from .roberta import roberta_heads
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import XLMRobertaXLConfig

    return XLMRobertaXLConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip


# BERT's paths but for the norms, which run before their branches
(_STACK,) = BERT_LAYOUT.stacks
LAYOUT = dataclasses.replace(
    BERT_LAYOUT,
    name="xlm_roberta_xl",
    stacks=(
        dataclasses.replace(
            _STACK, attention_norm="attention.self_attn_layer_norm", ffn_norm="LayerNorm", norm_position="pre"
        ),
    ),
)

# A limit of the reference implementation on transformers 4.x, not of the architecture.


def heads() -> dict:
    """RoBERTa's heads, but the token classifier: its loss differs from the flexible tagging head's."""
    found = roberta_heads("XLMRobertaXL")
    tagging = "XLMRobertaXLForTokenClassification"
    heads = dataclasses.replace(
        found["heads"],
        mapped=tuple(m for m in found["heads"].mapped if m.class_name != tagging),
        gaps={
            tagging: "its loss skips the padded positions (labels where attention_mask is 0 are ignored); a flexible "
            "tagging head's loss counts every labelled position, as BertForTokenClassification's does, so the "
            "logits agree but the losses differ on padded inputs",
        },
    )
    return {"head_classes": found["head_classes"], "heads": heads}


SPEC = register(
    ArchitectureSpec(
        name="xlm_roberta_xl",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="XLMRobertaXLModel",
        layouts=(LAYOUT,),
        model_type="xlm-roberta-xl",
        **heads(),
    ),
    module=__name__,
)
