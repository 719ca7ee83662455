"""Mixtral: Llama's attention and norms with a sparse mixture-of-experts FFN (a router picks the top-2 of the experts
per token and mixes their outputs by the router's weights).

What adapters adapt here:

- bottleneck adapters (seq_bn, double_seq_bn, par_bn, Compacter, invertible, the bottleneck of MAM and UniPELT) sit
  around the whole sparse-MoE block: ``ffn_out`` is the block (``mlp``; ``block_sparse_moe`` in transformers 4.x),
  so the adapter reads the experts' mixed output, after routing, as it reads a dense FFN's output elsewhere;
  ``ffn_in`` is the router (``gate``), the module that reads the FFN input;
- prefix tuning, prompt tuning and ReFT work on attention and the layer outputs as on Llama;
- LoRA, IA3 and DoRA are declared gaps: the configs the suite certifies adapt the FFN's projections too
  (``output_lora``, IA3's FFN vector), and a mixture of experts has no single FFN projection. Each expert has its
  own, nn.Linear modules in 4.x (``experts[i].w1/w2/w3``) and fused 3-D parameters in 5.x (``experts.gate_up_proj``,
  ``experts.down_proj``); the router is an nn.Linear in 4.x and a bare weight in 5.x. Neither the experts nor the
  router are adapted. Attention-only LoRA would work as on Llama, but the spec cannot say "no FFN projections".
"""

from dataclasses import replace

from .llama import LLAMA_DECODER, decoder_heads
from .registry import register
from .spec import ArchitectureSpec, ModuleLayout
from .versions import transformers_at_least


def tiny_config():
    from transformers import MixtralConfig

    # 4 experts, 2 per token: the routing picks a real subset; no jitter (deterministic outputs). The sizes are
    # multiples of 4: transformers 5.x runs the fused experts through torch's grouped_mm, which wants 16-byte strides
    return MixtralConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=40, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        num_local_experts=4, num_experts_per_tok=2, router_jitter_noise=0.0, sliding_window=None,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="mixtral", embeddings="embed_tokens", stacks=(replace(LLAMA_DECODER, ffn_in="mlp.gate", ffn_out="mlp"),)
)
# transformers 4.x: the same block under another name; it returns (hidden states, router logits)
LAYOUT_4 = ModuleLayout(
    name="mixtral-4",
    embeddings="embed_tokens",
    stacks=(replace(LLAMA_DECODER, ffn_in="block_sparse_moe.gate", ffn_out="block_sparse_moe"),),
)

_NO_FFN_PROJECTION = (
    "the FFN is a router and a mixture of experts, with no single FFN input/output projection to adapt: each expert "
    "has its own (fused 3-D parameters, not nn.Linear, in transformers 5.x); attention-only LoRA would work, but the "
    "certified configs adapt the FFN too and the spec cannot say 'no FFN projections' (a limit of this repository)"
)

# transformers 5.0.x only (4.57 has no fused experts; 5.24 compiles them)
_COMPILE_GAP = (
    {
        "torch_compile": "transformers 5.0's fused experts (torch._grouped_mm) do not compile in float32 on CPU: the "
        "plain base model fails the same way (fake tensors of grouped_mm expect bfloat16)"
    }
    if transformers_at_least("5.0") and not transformers_at_least("5.1")
    else {}
)

# The gaps of a mixture-of-experts FFN kept as one block (Qwen2-MoE shares them)
MOE_GAPS = {"lora": _NO_FFN_PROJECTION, "ia3": _NO_FFN_PROJECTION, "dora": _NO_FFN_PROJECTION, **_COMPILE_GAP}

SPEC = register(
    ArchitectureSpec(
        name="mixtral",
        modality="decoder",
        make_config=tiny_config,
        base_class="MixtralModel",
        layouts=(LAYOUT, LAYOUT_4),
        gaps=MOE_GAPS,
        **decoder_heads("Mixtral"),
    ),
    module=__name__,
)
