"""OPT: a pre-norm causal decoder with BART's decoder module names and learned positions counted over the attended
tokens only (from the attention mask), whose layers run the FFN on batch and sequence flattened into one axis."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import OPTConfig

    # word_embed_proj_dim = hidden_size and do_layer_norm_before (the default; every OPT size but 350m): no
    # project_in / project_out around the decoder, and pre-norm layers
    return OPTConfig(
        vocab_size=128, hidden_size=32, word_embed_proj_dim=32, num_hidden_layers=2, num_attention_heads=4,
        ffn_dim=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="opt",
    embeddings="decoder.embed_tokens",
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="decoder.layers",
            self_attention=AttentionSpec(
                module="self_attn",
                output="self_attn.out_proj",
                q="self_attn.q_proj",
                k="self_attn.k_proj",
                v="self_attn.v_proj",
            ),
            ffn_in="fc1",
            ffn_out="fc2",
            attention_norm="self_attn_layer_norm",
            ffn_norm="final_layer_norm",
            norm_position="pre",
            causal=True,
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="opt",
        modality="decoder",
        make_config=tiny_config,
        base_class="OPTModel",
        layouts=(LAYOUT,),
        **decoder_heads("OPT", ("ForCausalLM", "ForSequenceClassification", "ForQuestionAnswering")),
    ),
    module=__name__,
)
