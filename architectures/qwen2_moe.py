"""Qwen2-MoE: Qwen2's attention (q/k/v with bias) and norms with a sparse mixture-of-experts FFN that adds a shared
expert (a dense gated MLP, scaled by a sigmoid gate) to the routed experts' mix.

What adapters adapt is Mixtral's (see ``architectures.mixtral``): bottleneck adapters sit around the whole sparse-MoE
block (``mlp``: routed experts plus the shared expert); ``ffn_in`` is the router. Neither the experts, the shared
expert nor the router are adapted; LoRA, IA3 and DoRA are gaps for the same reason. The shared expert has
nn.Linear projections, but adapting it alone would not be the FFN's LoRA: it is one summand of the block's output.
"""

from .llama import decoder_heads
from .mixtral import LAYOUT, MOE_GAPS
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import Qwen2MoeConfig

    # 4 experts, 2 per token, every layer sparse; sizes multiples of 4 for grouped_mm (see mixtral)
    return Qwen2MoeConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=40, moe_intermediate_size=16, shared_expert_intermediate_size=40, num_experts=4,
        num_experts_per_tok=2, max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="qwen2_moe",
        modality="decoder",
        make_config=tiny_config,
        base_class="Qwen2MoeModel",
        # 4.x calls the block mlp too (Mixtral's 4.x name differs)
        layouts=(LAYOUT,),
        gaps=MOE_GAPS,
        **decoder_heads("Qwen2Moe"),
    ),
    module=__name__,
)
