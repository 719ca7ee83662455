"""An architecture spec outside this repository, to copy and change: ``adapter-conformance example > my_arch.py``, edit
it for your model, then run

    pytest --pyargs conformance.suite --arch=./my_arch.py

(or ``--arch=mypkg.my_arch`` when it sits in a package importable from the current folder). As shipped it certifies
ERNIE, a BERT-like post-norm text encoder that the repository does not register.
"""

from architectures import (
    ArchitectureSpec,
    AttentionSpec,
    HeadMap,
    LayerStackSpec,
    ModuleLayout,
    StaticHead,
    register,
)


def tiny_config():
    # Imported here: registering a spec imports torch and transformers only when it builds the model.
    from transformers import ErnieConfig

    return ErnieConfig(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )


LAYOUT = ModuleLayout(
    name="ernie",
    embeddings="embeddings.word_embeddings",  # relative to the base model (ErnieModel)
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.layer",  # the layer list; every path below is relative to one layer
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
            norm_position="post",  # layer norms after each residual branch (BERT style); "pre" for Llama style
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="ernie",  # the transformers model_type
        modality="text_encoder",
        make_config=tiny_config,
        base_class="ErnieModel",
        head_classes=(
            "ErnieForSequenceClassification",
            "ErnieForMultipleChoice",
            "ErnieForTokenClassification",
            "ErnieForQuestionAnswering",
            "ErnieForMaskedLM",
            "ErnieForCausalLM",
            "ErnieForNextSentencePrediction",
            "ErnieForPreTraining",
        ),
        layouts=(LAYOUT,),
        # Declared gaps: {feature: reason}; everything not listed here must pass.
        gaps={},
        heads=HeadMap(
            mapped=(
                StaticHead("ErnieForSequenceClassification", "classification", use_pooler=True),
                StaticHead("ErnieForMultipleChoice", "multiple_choice", use_pooler=True),
                StaticHead("ErnieForTokenClassification", "tagging"),
                StaticHead("ErnieForQuestionAnswering", "question_answering"),
                StaticHead("ErnieForMaskedLM", "masked_lm", activation="config:hidden_act"),
                StaticHead(
                    "ErnieForCausalLM", "causal_lm", activation="config:hidden_act", config={"is_decoder": True}
                ),
                StaticHead("ErnieForNextSentencePrediction", "classification", use_pooler=True),
            ),
            gaps={
                "ErnieForPreTraining": "predicts masked-LM and next-sentence logits in one output; a flexible head "
                "predicts one",
            },
        ),
    ),
    module=__name__,
)
