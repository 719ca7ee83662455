"""UMT5: mT5's modules with a relative position bias in every layer (not only the first)."""

from .registry import register
from .spec import ArchitectureSpec
from .t5 import SPLIT_GAP, t5_heads, t5_layouts


def tiny_config():
    from transformers import UMT5Config

    return UMT5Config(
        vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        tie_word_embeddings=False,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="umt5",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="UMT5Model",
        gaps={"split": SPLIT_GAP},
        layouts=t5_layouts("umt5", wi="wi_1"),
        **t5_heads("UMT5"),
    ),
    module=__name__,
)
