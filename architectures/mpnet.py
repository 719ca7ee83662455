"""MPNet: BERT's post-norm layer with a relative position bias shared by all layers, under its own attention names."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout, prefix_tuning_gaps


# A limit of the reference implementation, not of the architecture.
PREFIX_GAP = (
    "reference_impl puts prefix keys in front of the key projection's output; MPNet's attention splits the keys into "
    "heads with the sequence's own length and adds a relative position bias sized by it, so the prefixed keys do not "
    "fit (a shape error); reaching it needs a copied attention forward reference_impl does not have"
)


def tiny_config():
    from transformers import MPNetConfig

    # the default 32 position buckets: transformers 4.x computes the bias with 32 whatever the config says
    return MPNetConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="mpnet",
    embeddings="embeddings.word_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.layer",
            self_attention=AttentionSpec(
                module="attention.attn",
                output="attention.attn.o",
                q="attention.attn.q",
                k="attention.attn.k",
                v="attention.attn.v",
            ),
            ffn_in="intermediate.dense",
            ffn_out="output.dense",
            attention_norm="attention.LayerNorm",
            ffn_norm="output.LayerNorm",
            norm_position="post",
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="mpnet",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="MPNetModel",
        head_classes=(
            "MPNetForSequenceClassification",
            "MPNetForMultipleChoice",
            "MPNetForTokenClassification",
            "MPNetForQuestionAnswering",
            "MPNetForMaskedLM",
        ),
        layouts=(LAYOUT,),
        gaps=prefix_tuning_gaps(PREFIX_GAP),
        heads=HeadMap(
            mapped=(
                # dense -> tanh -> out_proj on the first token, not through the pooler
                StaticHead("MPNetForSequenceClassification", "classification", activation="tanh"),
                StaticHead("MPNetForMultipleChoice", "multiple_choice", use_pooler=True),
                StaticHead("MPNetForTokenClassification", "tagging"),
                StaticHead("MPNetForQuestionAnswering", "question_answering"),
                StaticHead("MPNetForMaskedLM", "masked_lm", activation="gelu"),
            ),
        ),
    ),
    module=__name__,
)
