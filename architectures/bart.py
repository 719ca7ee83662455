"""BART: post-norm encoder-decoder with learned positions; the decoder has self- and cross-attention.

``bart_layout`` serves the families that copy BART's modules (mBART, PLBart, Marian, Pegasus, M2M100, ...), with the
norm position they use; ``seq2seq_heads`` maps their head classes.
"""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import BartConfig

    return BartConfig(**TINY_SEQ2SEQ)


# Tiny sizes under the names BART-like configs use.
TINY_SEQ2SEQ = dict(
    vocab_size=128, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
)  # fmt: skip


def _attention(name: str) -> AttentionSpec:
    return AttentionSpec(
        module=name, output=f"{name}.out_proj", q=f"{name}.q_proj", k=f"{name}.k_proj", v=f"{name}.v_proj"
    )


def bart_layout(norm_position: str, name: str = "bart", embeddings: str = "shared") -> ModuleLayout:
    """BART's module layout; mBART, Pegasus and M2M100 put the same norms before each sublayer ("pre")."""
    common = dict(
        self_attention=_attention("self_attn"),
        ffn_in="fc1",
        ffn_out="fc2",
        attention_norm="self_attn_layer_norm",
        ffn_norm="final_layer_norm",
        norm_position=norm_position,
    )
    return ModuleLayout(
        name=name,
        embeddings=embeddings,
        stacks=(
            LayerStackSpec(name="encoder", path="encoder.layers", **common),
            LayerStackSpec(
                name="decoder",
                path="decoder.layers",
                cross_attention=_attention("encoder_attn"),
                causal=True,
                **common,
            ),
        ),
    )


BART_LAYOUT = bart_layout("post")

SPLIT_GAP = (
    "Split hands positions of one sequence to different adapters; the encoder and decoder sequences of an "
    "encoder-decoder differ in length, so one split cannot fit both"
)

CAUSAL_LM_GAP = (
    "is the decoder alone used as a causal LM (a decoder wrapper without the encoder); a flexible head sits on "
    "the whole encoder-decoder model, so there is no flexible model with the same modules to convert to"
)


def seq2seq_heads(generation: str, *others: str, causal_lm: str | None = None) -> dict:
    """``head_classes`` and ``heads`` of a BART-like family: the generation class, then classification
    (``...ForSequenceClassification``: dense -> tanh -> out_proj at the last <eos>) and question answering."""
    mapped = [StaticHead(generation, "seq2seq_lm")]
    for name in others:
        if name.endswith("ForSequenceClassification"):
            mapped.append(StaticHead(name, "classification", activation="tanh"))
        elif name.endswith("ForQuestionAnswering"):
            mapped.append(StaticHead(name, "question_answering"))
        else:
            raise ValueError(f"seq2seq_heads: no mapping known for {name}")
    gaps = {causal_lm: CAUSAL_LM_GAP} if causal_lm else {}
    return {
        "head_classes": (generation, *others, *gaps),
        "heads": HeadMap(mapped=tuple(mapped), gaps=gaps),
    }


SPEC = register(
    ArchitectureSpec(
        name="bart",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="BartModel",
        layouts=(BART_LAYOUT,),
        gaps={"split": SPLIT_GAP},
        **seq2seq_heads(
            "BartForConditionalGeneration",
            "BartForSequenceClassification",
            "BartForQuestionAnswering",
            causal_lm="BartForCausalLM",
        ),
    ),
    module=__name__,
)
