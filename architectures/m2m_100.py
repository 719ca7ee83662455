"""M2M100: BART's modules with pre-norm sublayers and sinusoidal positions; many-to-many translation."""

from .bart import SPLIT_GAP, TINY_SEQ2SEQ, bart_layout, seq2seq_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import M2M100Config

    # no LayerDrop (M2M100 defaults to 0.05): a training step that drops every decoder layer never reads the
    # encoder, and the checks that train compare two runs, not the luck of the draw
    return M2M100Config(**TINY_SEQ2SEQ, encoder_layerdrop=0.0, decoder_layerdrop=0.0)


SPEC = register(
    ArchitectureSpec(
        name="m2m_100",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="M2M100Model",
        layouts=(bart_layout("pre", "m2m_100"),),
        gaps={"split": SPLIT_GAP},
        **seq2seq_heads("M2M100ForConditionalGeneration"),
    ),
    module=__name__,
)
