"""Gemma 3 (text): Gemma 2's layer (four norms) with q/k norms and local/global attention layers."""

from .gemma2 import GEMMA2_LAYOUT
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, intermediate_size=37, max_position_embeddings=64, sliding_window=16,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


MULTIMODAL = (
    "belongs to Gemma 3's image-text model (Gemma3Config with a vision tower), not to the text-only gemma3_text "
    "model this spec certifies"
)

SPEC = register(
    ArchitectureSpec(
        name="gemma3_text",
        modality="decoder",
        make_config=tiny_config,
        base_class="Gemma3TextModel",
        head_classes=("Gemma3ForCausalLM", "Gemma3TextForSequenceClassification"),
        layouts=(GEMMA2_LAYOUT,),
        heads=HeadMap(
            mapped=(
                StaticHead("Gemma3ForCausalLM", "causal_lm"),
                StaticHead("Gemma3TextForSequenceClassification", "classification"),  # the last non-pad token
            ),
            gaps={
                "Gemma3ForConditionalGeneration": MULTIMODAL,
                "Gemma3ForSequenceClassification": MULTIMODAL,
                "Gemma3Model": MULTIMODAL,
            },
        ),
    ),
    module=__name__,
)
