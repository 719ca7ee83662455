"""T5: pre-norm encoder-decoder with relative position bias; the decoder has self- and cross-attention."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import T5Config

    return T5Config(
        vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        tie_word_embeddings=False,
    )  # fmt: skip


def output_scaling(config) -> dict[str, bool]:
    """T5 scales the decoder output by d_model**-0.5 before its LM head: transformers 5.x says so in
    ``scale_decoder_outputs``, 4.x whenever the embeddings are tied."""
    return {"scale_hidden": bool(getattr(config, "scale_decoder_outputs", config.tie_word_embeddings))}


def _attention(sublayer: str, name: str) -> AttentionSpec:
    module = f"layer.{sublayer}.{name}"
    return AttentionSpec(module=module, output=f"{module}.o", q=f"{module}.q", k=f"{module}.k", v=f"{module}.v")


ENCODER = LayerStackSpec(
    name="encoder",
    path="encoder.block",
    self_attention=_attention("0", "SelfAttention"),
    ffn_in="layer.1.DenseReluDense.wi",
    ffn_out="layer.1.DenseReluDense.wo",
    attention_norm="layer.0.layer_norm",
    ffn_norm="layer.1.layer_norm",
    norm_position="pre",
)

DECODER = LayerStackSpec(
    name="decoder",
    path="decoder.block",
    self_attention=_attention("0", "SelfAttention"),
    cross_attention=_attention("1", "EncDecAttention"),
    ffn_in="layer.2.DenseReluDense.wi",
    ffn_out="layer.2.DenseReluDense.wo",
    attention_norm="layer.0.layer_norm",
    ffn_norm="layer.2.layer_norm",
    norm_position="pre",
    causal=True,
)

SPEC = register(
    ArchitectureSpec(
        name="t5",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="T5Model",
        gaps={
            "split": "Split hands positions of one sequence to different adapters; T5's encoder and decoder "
            "sequences differ in length, so one split cannot fit both"
        },
        head_classes=(
            "T5ForConditionalGeneration",
            "T5EncoderModel",
            "T5ForSequenceClassification",
            "T5ForTokenClassification",
            "T5ForQuestionAnswering",
        ),
        layouts=(
            ModuleLayout(name="t5", embeddings="shared", stacks=(ENCODER, DECODER)),
            # T5EncoderModel and T5ForTokenClassification: the encoder alone
            ModuleLayout(name="t5-encoder", embeddings="shared", stacks=(ENCODER,)),
        ),
        heads=HeadMap(
            mapped=(
                StaticHead("T5ForConditionalGeneration", "seq2seq_lm", options=output_scaling),
                # reads the decoder at the last <eos> of the input, through dense -> tanh -> out_proj
                StaticHead("T5ForSequenceClassification", "classification", activation="tanh"),
                StaticHead("T5ForTokenClassification", "tagging"),  # reads the encoder only
                StaticHead("T5ForQuestionAnswering", "question_answering"),
            ),
            gaps={
                "T5EncoderModel": "is T5's encoder alone, without a prediction head: a base model of its own, so "
                "there is no head to convert",
            },
        ),
    ),
    module=__name__,
)
