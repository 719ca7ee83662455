"""PLBart: BART's modules and heads, trained on code."""

from .bart import SPLIT_GAP, TINY_SEQ2SEQ, bart_layout, seq2seq_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import PLBartConfig

    # no default start token (generation starts from a language code); 2 (</s>), which PLBart's shift puts first
    return PLBartConfig(**TINY_SEQ2SEQ, decoder_start_token_id=2)


SPEC = register(
    ArchitectureSpec(
        name="plbart",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="PLBartModel",
        layouts=(bart_layout("post", "plbart"),),
        gaps={"split": SPLIT_GAP},
        **seq2seq_heads(
            "PLBartForConditionalGeneration", "PLBartForSequenceClassification", causal_lm="PLBartForCausalLM"
        ),
    ),
    module=__name__,
)
