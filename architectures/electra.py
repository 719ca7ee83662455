"""ELECTRA: BERT's modules, pre-trained as a discriminator of replaced tokens."""

from .bert import BERT_LAYOUT
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import ElectraConfig

    return ElectraConfig(
        vocab_size=128, embedding_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, pad_token_id=0,
    )  # fmt: skip


# The generator head registers its LayerNorm before its dense layer; it runs dense -> GELU -> LayerNorm -> output.
GENERATOR_HEAD = {
    "hidden.0": "generator_predictions.dense",
    "norm.0": "generator_predictions.LayerNorm",
    "output": "generator_lm_head",
}

SPEC = register(
    ArchitectureSpec(
        name="electra",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="ElectraModel",
        head_classes=(
            "ElectraForSequenceClassification",
            "ElectraForMultipleChoice",
            "ElectraForTokenClassification",
            "ElectraForQuestionAnswering",
            "ElectraForMaskedLM",
            "ElectraForCausalLM",
            "ElectraForPreTraining",
        ),
        layouts=(BERT_LAYOUT,),
        heads=HeadMap(
            mapped=(
                # dense -> GELU -> out_proj on the first token (ELECTRA has no pooler)
                StaticHead("ElectraForSequenceClassification", "classification", activation="gelu"),
                StaticHead("ElectraForTokenClassification", "tagging"),
                StaticHead("ElectraForQuestionAnswering", "question_answering"),
                StaticHead("ElectraForMaskedLM", "masked_lm", activation="gelu", layers=GENERATOR_HEAD),
                StaticHead(
                    "ElectraForCausalLM",
                    "causal_lm",
                    activation="gelu",
                    layers=GENERATOR_HEAD,
                    config={"is_decoder": True},
                ),
            ),
            gaps={
                "ElectraForMultipleChoice": "passes each choice's score through a GELU after the output layer "
                "(its sequence summary); a flexible head's output layer is linear",
                "ElectraForPreTraining": "scores every token as original or replaced and returns (batch, length) "
                "logits for pre-training; no flexible head has that output",
            },
        ),
    ),
    module=__name__,
)
