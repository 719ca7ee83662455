"""LongT5: T5's pre-norm encoder-decoder whose encoder attends locally (``local``: each token sees the blocks of
``local_radius`` around it) or locally plus to per-block summaries (``transient-global``). The decoder, the FFN and
the norms are T5's modules; only the encoder's attention sits under another name, one per attention type."""

import dataclasses

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, ModuleLayout, prefix_tuning_gaps
from .t5 import SPLIT_GAP, _attention, output_scaling, t5_stacks


def tiny_config():
    from transformers import LongT5Config

    # local_radius 2: blocks of 3 tokens, so the 8-token inputs of the checks span several blocks and the locality
    # shows (the default radius, 127, would make a tiny input one block: plain attention)
    return LongT5Config(
        vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, local_radius=2, global_block_size=4, encoder_attention_type="local",
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, tie_word_embeddings=False,
    )  # fmt: skip


def longt5_layouts(attention: str) -> tuple[ModuleLayout, ModuleLayout]:
    """T5's stacks with the encoder's self-attention under ``attention``, and the encoder alone."""
    encoder, decoder = t5_stacks()
    encoder = dataclasses.replace(encoder, self_attention=_attention("0", attention))
    name = f"longt5-{attention}"
    return (
        ModuleLayout(name=name, embeddings="shared", stacks=(encoder, decoder)),
        ModuleLayout(name=f"{name}-encoder", embeddings="shared", stacks=(encoder,)),  # LongT5EncoderModel
    )


# A limit of the reference implementation, not of the architecture.
PREFIX_GAP = (
    "LongT5's local encoder attention splits the keys into blocks of local_radius + 1 tokens, each query block "
    "attending to its neighbours through a 5-d block mask and a block-local position bias; a prefix must join the "
    "keys of every block, and reference_impl widens 4-d masks only, so it needs a copied local-attention forward "
    "reference_impl does not have (the decoder's attentions are T5's)"
)

SPEC = register(
    ArchitectureSpec(
        name="longt5",
        modality="encoder_decoder",
        make_config=tiny_config,
        base_class="LongT5Model",
        # encoder_attention_type "local" (certified: the tiny config), then "transient-global"
        layouts=(*longt5_layouts("LocalSelfAttention"), *longt5_layouts("TransientGlobalSelfAttention")),
        gaps={"split": SPLIT_GAP, **prefix_tuning_gaps(PREFIX_GAP)},
        head_classes=("LongT5ForConditionalGeneration", "LongT5EncoderModel"),
        heads=HeadMap(
            mapped=(StaticHead("LongT5ForConditionalGeneration", "seq2seq_lm", options=output_scaling),),
            gaps={
                "LongT5EncoderModel": "is LongT5's encoder alone, without a prediction head: a base model of its "
                "own, so there is no head to convert",
            },
        ),
    ),
    module=__name__,
)
