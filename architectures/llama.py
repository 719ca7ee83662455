"""Llama: pre-norm causal decoder with rotary positions and grouped-query attention (fewer key/value heads).

``LLAMA_LAYOUT`` and ``decoder_heads`` serve the families that copy Llama's modules (Mistral, Qwen2, Qwen3, Gemma,
Granite, SmolLM3, ...): their specs state only what differs.
"""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import LlamaConfig

    # 4 query heads share 2 key/value heads: the grouped-query case every method has to get right
    return LlamaConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LLAMA_DECODER = LayerStackSpec(
    name="decoder",
    path="layers",
    self_attention=AttentionSpec(
        module="self_attn", output="self_attn.o_proj", q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj"
    ),
    # the gated MLP is down(act(gate(x)) * up(x)): up_proj is its input projection
    ffn_in="mlp.up_proj",
    ffn_out="mlp.down_proj",
    attention_norm="input_layernorm",
    ffn_norm="post_attention_layernorm",
    norm_position="pre",
    causal=True,
)
LLAMA_LAYOUT = ModuleLayout(name="llama", embeddings="embed_tokens", stacks=(LLAMA_DECODER,))

# The static head classes of a Llama-like family, by suffix, and the flexible head each one is.
DECODER_HEADS = {
    "ForCausalLM": "causal_lm",
    "ForSequenceClassification": "classification",  # reads the last non-pad token
    "ForTokenClassification": "tagging",
    "ForQuestionAnswering": "question_answering",
}


def decoder_heads(prefix: str, suffixes: tuple[str, ...] = tuple(DECODER_HEADS), **gaps: str) -> dict:
    """``head_classes`` and ``heads`` for a decoder family whose classes are ``<prefix><suffix>``."""
    mapped = tuple(StaticHead(prefix + suffix, DECODER_HEADS[suffix]) for suffix in suffixes)
    return {
        "head_classes": tuple(prefix + suffix for suffix in suffixes) + tuple(gaps),
        "heads": HeadMap(mapped=mapped, gaps=gaps),
    }


SPEC = register(
    ArchitectureSpec(
        name="llama",
        modality="decoder",
        make_config=tiny_config,
        base_class="LlamaModel",
        layouts=(LLAMA_LAYOUT,),
        **decoder_heads("Llama"),
    ),
    module=__name__,
)
