"""mT5: T5's modules with a gated-GELU FFN; multilingual."""

from .registry import register
from .spec import ArchitectureSpec
from .t5 import SPLIT_GAP, t5_heads, t5_layouts
from .versions import transformers_at_least


def output_scaling(config) -> dict[str, bool]:
    """mT5 scales the decoder output by d_model**-0.5 before its LM head in transformers 4.x when the embeddings are
    tied; 5.x ties them always and never scales."""
    return {"scale_hidden": not transformers_at_least("5.0") and bool(config.tie_word_embeddings)}


def tiny_config():
    from transformers import MT5Config

    return MT5Config(
        vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        tie_word_embeddings=False,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="mt5",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="MT5Model",
        gaps={"split": SPLIT_GAP},
        layouts=t5_layouts("mt5", wi="wi_1"),
        **t5_heads("MT5", options=output_scaling),
    ),
    module=__name__,
)
