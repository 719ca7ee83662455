"""Marian: BART's modules with sinusoidal positions; translation."""

from .bart import SPLIT_GAP, TINY_SEQ2SEQ, bart_layout, seq2seq_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import MarianConfig

    return MarianConfig(
        **TINY_SEQ2SEQ, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1
    )


SPEC = register(
    ArchitectureSpec(
        name="marian",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="MarianModel",
        layouts=(bart_layout("post", "marian"),),
        gaps={"split": SPLIT_GAP},
        **seq2seq_heads("MarianMTModel", causal_lm="MarianForCausalLM"),
    ),
    module=__name__,
)
