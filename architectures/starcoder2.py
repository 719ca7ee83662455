"""StarCoder2: Llama's attention (biased q/k/v/o projections), LayerNorm pre-norms and a plain (ungated) MLP,
c_proj(act(c_fc(x)))."""

from dataclasses import replace

from .llama import LLAMA_DECODER, LLAMA_LAYOUT, decoder_heads
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import Starcoder2Config

    return Starcoder2Config(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


STARCODER2_LAYOUT = replace(
    LLAMA_LAYOUT, name="starcoder2", stacks=(replace(LLAMA_DECODER, ffn_in="mlp.c_fc", ffn_out="mlp.c_proj"),)
)

SPEC = register(
    ArchitectureSpec(
        name="starcoder2",
        modality="decoder",
        make_config=tiny_config,
        base_class="Starcoder2Model",
        layouts=(STARCODER2_LAYOUT,),
        **decoder_heads("Starcoder2", ("ForCausalLM", "ForSequenceClassification", "ForTokenClassification")),
    ),
    module=__name__,
)
