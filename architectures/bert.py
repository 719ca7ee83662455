"""BERT: post-norm text encoder with separate q/k/v projections."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import BertConfig

    return BertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64,
    )  # fmt: skip


# The BERT module layout, shared by the models that copy BERT's modules (RoBERTa, ...).
BERT_LAYOUT = ModuleLayout(
    name="bert",
    embeddings="embeddings.word_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.layer",
            self_attention=AttentionSpec(
                module="attention.self",
                output="attention.output.dense",
                q="attention.self.query",
                k="attention.self.key",
                v="attention.self.value",
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
        name="bert",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="BertModel",
        head_classes=(
            "BertForSequenceClassification",
            "BertForMultipleChoice",
            "BertForTokenClassification",
            "BertForQuestionAnswering",
            "BertForMaskedLM",
            "BertLMHeadModel",
            "BertForNextSentencePrediction",
            "BertForPreTraining",
        ),
        layouts=(BERT_LAYOUT,),
        heads=HeadMap(
            mapped=(
                StaticHead("BertForSequenceClassification", "classification", use_pooler=True),
                StaticHead("BertForMultipleChoice", "multiple_choice", use_pooler=True),
                StaticHead("BertForTokenClassification", "tagging"),
                StaticHead("BertForQuestionAnswering", "question_answering"),
                StaticHead("BertForMaskedLM", "masked_lm", activation="config:hidden_act"),
                StaticHead(
                    "BertLMHeadModel", "causal_lm", activation="config:hidden_act", config={"is_decoder": True}
                ),
                StaticHead("BertForNextSentencePrediction", "classification", use_pooler=True),
            ),
            gaps={
                "BertForPreTraining": "predicts two tasks at once (masked-LM and next-sentence logits in one "
                "output) and a flexible head predicts one; convert its parts as BertForMaskedLM and "
                "BertForNextSentencePrediction",
            },
        ),
    ),
    module=__name__,
)
