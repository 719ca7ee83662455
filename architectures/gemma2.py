"""Gemma 2: Llama's modules with a norm before and after each sublayer (four per layer), logit soft-capping and
alternating sliding-window layers."""

from dataclasses import replace

from .llama import LLAMA_DECODER, LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import Gemma2Config

    return Gemma2Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, intermediate_size=37, max_position_embeddings=64, sliding_window=16,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


# the FFN reads pre_feedforward_layernorm; post_attention_layernorm normalises the attention output before the residual
GEMMA2_LAYOUT = replace(
    LLAMA_LAYOUT, name="gemma2", stacks=(replace(LLAMA_DECODER, ffn_norm="pre_feedforward_layernorm"),)
)

# A flexible causal_lm head's output layer is linear.
SOFTCAP_GAP = (
    "caps its logits (tanh(logits / final_logit_softcapping) * final_logit_softcapping); a flexible causal_lm "
    "head's output layer is linear, so the converted head would predict other logits"
)

SPEC = register(
    ArchitectureSpec(
        name="gemma2",
        modality="decoder",
        make_config=tiny_config,
        base_class="Gemma2Model",
        layouts=(GEMMA2_LAYOUT,),
        **decoder_heads(
            "Gemma2", ("ForSequenceClassification", "ForTokenClassification"), Gemma2ForCausalLM=SOFTCAP_GAP
        ),
    ),
    module=__name__,
)
