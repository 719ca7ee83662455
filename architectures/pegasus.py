"""Pegasus: BART's modules with pre-norm sublayers and sinusoidal positions."""

from .bart import SPLIT_GAP, TINY_SEQ2SEQ, bart_layout, seq2seq_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import PegasusConfig

    return PegasusConfig(**TINY_SEQ2SEQ)


SPEC = register(
    ArchitectureSpec(
        name="pegasus",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="PegasusModel",
        layouts=(bart_layout("pre", "pegasus"),),
        gaps={"split": SPLIT_GAP},
        **seq2seq_heads("PegasusForConditionalGeneration", causal_lm="PegasusForCausalLM"),
    ),
    module=__name__,
)
