"""mBART: BART's modules with pre-norm sublayers (and a final norm per stack); multilingual."""

from .bart import SPLIT_GAP, TINY_SEQ2SEQ, bart_layout, seq2seq_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import MBartConfig

    # no default start token (generation starts from the language code); 2 (</s>) as mBART-50 checkpoints set
    return MBartConfig(**TINY_SEQ2SEQ, decoder_start_token_id=2)


SPEC = register(
    ArchitectureSpec(
        name="mbart",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="MBartModel",
        layouts=(bart_layout("pre", "mbart"),),
        gaps={"split": SPLIT_GAP},
        **seq2seq_heads(
            "MBartForConditionalGeneration",
            "MBartForSequenceClassification",
            "MBartForQuestionAnswering",
            causal_lm="MBartForCausalLM",
        ),
    ),
    module=__name__,
)
