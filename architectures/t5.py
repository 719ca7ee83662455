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


def t5_stacks(wi: str = "wi") -> tuple[LayerStackSpec, LayerStackSpec]:
    """T5's encoder and decoder stacks. ``wi`` is the FFN input projection: ``wi``, or ``wi_1`` (the un-gated one)
    where the FFN is gated (mT5, UMT5: ``wo(act(wi_0(x)) * wi_1(x))``)."""
    encoder = LayerStackSpec(
        name="encoder",
        path="encoder.block",
        self_attention=_attention("0", "SelfAttention"),
        ffn_in=f"layer.1.DenseReluDense.{wi}",
        ffn_out="layer.1.DenseReluDense.wo",
        attention_norm="layer.0.layer_norm",
        ffn_norm="layer.1.layer_norm",
        norm_position="pre",
    )
    decoder = LayerStackSpec(
        name="decoder",
        path="decoder.block",
        self_attention=_attention("0", "SelfAttention"),
        cross_attention=_attention("1", "EncDecAttention"),
        ffn_in=f"layer.2.DenseReluDense.{wi}",
        ffn_out="layer.2.DenseReluDense.wo",
        attention_norm="layer.0.layer_norm",
        ffn_norm="layer.2.layer_norm",
        norm_position="pre",
        causal=True,
    )
    return encoder, decoder


def t5_layouts(name: str, wi: str = "wi") -> tuple[ModuleLayout, ModuleLayout]:
    encoder, decoder = t5_stacks(wi)
    return (
        ModuleLayout(name=name, embeddings="shared", stacks=(encoder, decoder)),
        # <Family>EncoderModel and <Family>ForTokenClassification: the encoder alone
        ModuleLayout(name=f"{name}-encoder", embeddings="shared", stacks=(encoder,)),
    )


def t5_heads(prefix: str, options=output_scaling) -> dict:
    """``head_classes`` and ``heads`` of T5 and the families that copy its heads (mT5, UMT5)."""
    mapped = (
        StaticHead(f"{prefix}ForConditionalGeneration", "seq2seq_lm", options=options),
        # reads the decoder at the last <eos> of the input, through dense -> tanh -> out_proj
        StaticHead(f"{prefix}ForSequenceClassification", "classification", activation="tanh"),
        StaticHead(f"{prefix}ForTokenClassification", "tagging"),  # reads the encoder only
        StaticHead(f"{prefix}ForQuestionAnswering", "question_answering"),
    )
    gaps = {
        f"{prefix}EncoderModel": f"is {prefix}'s encoder alone, without a prediction head: a base model of its own, "
        "so there is no head to convert",
    }
    return {"head_classes": (*(m.class_name for m in mapped), *gaps), "heads": HeadMap(mapped=mapped, gaps=gaps)}


SPLIT_GAP = (
    "Split hands positions of one sequence to different adapters; T5's encoder and decoder sequences differ in "
    "length, so one split cannot fit both"
)

SPEC = register(
    ArchitectureSpec(
        name="t5",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="T5Model",
        gaps={"split": SPLIT_GAP},
        layouts=t5_layouts("t5"),
        **t5_heads("T5"),
    ),
    module=__name__,
)
