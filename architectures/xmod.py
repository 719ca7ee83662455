"""X-MOD: RoBERTa's modules plus language-specific bottleneck modules in every layer's FFN output.

How adapters sit beside the language modules: X-MOD's own ``output.adapter_modules[<language>]`` run after the FFN
output's residual and LayerNorm, chosen per example by ``lang_ids`` (or the config's default language). The adapters
this suite certifies attach where they attach in RoBERTa (attention and FFN projections, the FFN output before its
LayerNorm), so they run *before* the language module of the same layer and apply to every language alike; the
language modules stay X-MOD's and are frozen by ``train_adapter`` like any other base weight.
"""

from .bert import BERT_LAYOUT
from .registry import register
from .roberta import roberta_heads
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import XmodConfig

    return XmodConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1, languages=["en_XX", "de_DE"], default_language="en_XX",
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="xmod",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="XmodModel",
        layouts=(BERT_LAYOUT,),
        **roberta_heads("Xmod"),
    ),
    module=__name__,
)
