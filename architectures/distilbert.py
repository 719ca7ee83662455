"""DistilBERT: BERT distilled to fewer layers, under its own module names (q_lin, out_lin, ffn.lin1, ...)."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import DistilBertConfig

    return DistilBertConfig(
        vocab_size=128, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64, pad_token_id=0
    )


LAYOUT = ModuleLayout(
    name="distilbert",
    embeddings="embeddings.word_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="transformer.layer",
            self_attention=AttentionSpec(
                module="attention",
                output="attention.out_lin",
                q="attention.q_lin",
                k="attention.k_lin",
                v="attention.v_lin",
            ),
            ffn_in="ffn.lin1",
            ffn_out="ffn.lin2",
            attention_norm="sa_layer_norm",
            ffn_norm="output_layer_norm",
            norm_position="post",
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="distilbert",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="DistilBertModel",
        head_classes=(
            "DistilBertForSequenceClassification",
            "DistilBertForMultipleChoice",
            "DistilBertForTokenClassification",
            "DistilBertForQuestionAnswering",
            "DistilBertForMaskedLM",
        ),
        layouts=(LAYOUT,),
        heads=HeadMap(
            mapped=(
                # pre_classifier -> ReLU -> classifier on the first token (DistilBERT has no pooler)
                StaticHead("DistilBertForSequenceClassification", "classification", activation="relu"),
                StaticHead("DistilBertForMultipleChoice", "multiple_choice", activation="relu"),
                StaticHead("DistilBertForTokenClassification", "tagging"),
                StaticHead("DistilBertForQuestionAnswering", "question_answering"),
                StaticHead("DistilBertForMaskedLM", "masked_lm", activation="config:activation"),
            ),
        ),
    ),
    module=__name__,
)
