"""EncoderDecoder (BERT2BERT): a BERT encoder and a BERT decoder with cross-attention (``is_decoder=True,
add_cross_attention=True``) joined by transformers' generic EncoderDecoderModel. Each side keeps its own embeddings;
the decoder is a BertLMHeadModel, so the base model already ends in the LM head."""

from dataclasses import replace

from .bert import BERT_LAYOUT
from .bert import tiny_config as bert_config
from .heads import HeadMap
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, ModuleLayout


def tiny_config():
    from transformers import EncoderDecoderConfig

    encoder = bert_config()
    encoder.num_hidden_layers = 2
    decoder = bert_config()
    decoder.num_hidden_layers = 2
    decoder.is_decoder = True
    decoder.add_cross_attention = True
    config = EncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id = 1, 0  # generate() and the shifted labels need them
    return config


_BERT_STACK = BERT_LAYOUT.stacks[0]

LAYOUT = ModuleLayout(
    name="bert2bert",
    embeddings="encoder.embeddings.word_embeddings",
    stacks=(
        replace(_BERT_STACK, name="encoder", path="encoder.encoder.layer"),
        replace(
            _BERT_STACK,
            name="decoder",
            path="decoder.bert.encoder.layer",
            cross_attention=AttentionSpec(
                module="crossattention.self",
                output="crossattention.output.dense",
                q="crossattention.self.query",
                k="crossattention.self.key",
                v="crossattention.self.value",
            ),
            causal=True,
        ),
    ),
)

NO_FLEXIBLE_MODEL = (
    "EncoderDecoderModel is itself the sequence-to-sequence LM (its decoder is a BertLMHeadModel, the LM head "
    "inside) and transformers has no head-less encoder-decoder base whose hidden states a flexible head could read, "
    "nor any other class of the family to convert; AdapterHub likewise offers it through adapters.init only"
)
ON_FLEXIBLE_MODEL = (
    "the suite checks this on the adapter model with flexible heads, which this family does not have (see "
    "adapter_model); the adapters themselves are checked on EncoderDecoderModel"
)

SPEC = register(
    ArchitectureSpec(
        name="encoder_decoder",
        model_type="encoder-decoder",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="EncoderDecoderModel",
        head_classes=(),
        layouts=(LAYOUT,),
        gaps={
            **{feature: NO_FLEXIBLE_MODEL for feature in ("adapter_model", "heads", "class_conversion")},
            **{feature: ON_FLEXIBLE_MODEL for feature in ("accelerate", "torch_compile", "bfloat16", "trainer")},
            "split": "Split hands positions of one sequence to different adapters; the encoder and decoder sequences "
            "of an encoder-decoder differ in length, so one split cannot fit both",
        },
        heads=HeadMap(),
    ),
    module=__name__,
)
