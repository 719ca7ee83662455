"""ALBERT: BERT's post-norm layer with weights shared across depth, and factorised embeddings.

Sharing: the encoder keeps ``num_hidden_groups`` groups of ``inner_group_num`` layers; each of the
``num_hidden_layers`` steps runs one whole group. The spec's layer list is the shared group (one group: real
checkpoints have ``num_hidden_groups=1``), so an adapter sits on each distinct layer module and runs at every depth
that module runs at, as the weights it adapts do; ``leave_out`` counts those distinct layers, not depths. This is
AdapterHub's placement (its ALBERT notes: adapters added to a layer are shared between groups). The tiny config has
two distinct layers run twice each (4 depths), so the oracles' per-module hooks see the sharing.

Factorised embeddings: tokens embed to ``embedding_size`` and ``encoder.embedding_hidden_mapping_in`` projects them
to the hidden size; an invertible adapter works at the embedding width, and a tied masked-LM head projects hidden ->
embedding size before its output layer (AlbertMLMHead).
"""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import AlbertConfig

    return AlbertConfig(
        vocab_size=128, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_hidden_groups=1,
        inner_group_num=2, num_attention_heads=4, intermediate_size=37, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="albert",
    embeddings="embeddings.word_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.albert_layer_groups.0.albert_layers",
            self_attention=AttentionSpec(
                module="attention",
                output="attention.dense",
                q="attention.query",
                k="attention.key",
                v="attention.value",
            ),
            ffn_in="ffn",
            ffn_out="ffn_output",
            attention_norm="attention.LayerNorm",
            ffn_norm="full_layer_layer_norm",
            norm_position="post",
        ),
    ),
)

# A limit of the reference implementation on transformers 4.x, not of the architecture.

SPEC = register(
    ArchitectureSpec(
        name="albert",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="AlbertModel",
        head_classes=(
            "AlbertForSequenceClassification",
            "AlbertForMultipleChoice",
            "AlbertForTokenClassification",
            "AlbertForQuestionAnswering",
            "AlbertForMaskedLM",
            "AlbertForPreTraining",
        ),
        layouts=(LAYOUT,),
        heads=HeadMap(
            mapped=(
                StaticHead("AlbertForSequenceClassification", "classification", use_pooler=True),
                StaticHead("AlbertForMultipleChoice", "multiple_choice", use_pooler=True),
                StaticHead("AlbertForTokenClassification", "tagging"),
                StaticHead("AlbertForQuestionAnswering", "question_answering"),
                # registered LayerNorm first; it runs dense -> hidden_act -> LayerNorm -> decoder
                StaticHead(
                    "AlbertForMaskedLM",
                    "masked_lm",
                    activation="config:hidden_act",
                    layers={
                        "hidden.0": "predictions.dense",
                        "norm.0": "predictions.LayerNorm",
                        "output": "predictions.decoder",
                    },
                ),
            ),
            gaps={
                "AlbertForPreTraining": "predicts two tasks at once (masked-LM and sentence-order logits in one "
                "output) and a flexible head predicts one; convert its parts as AlbertForMaskedLM and "
                "AlbertForSequenceClassification",
            },
        ),
    ),
    module=__name__,
)
