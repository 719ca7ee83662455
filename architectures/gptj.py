"""GPT-J: a causal decoder whose attention and MLP run in parallel off one layer norm (x + attn(ln(x)) + mlp(ln(x)))."""

from .llama import decoder_heads
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import GPTJConfig

    return GPTJConfig(
        vocab_size=128, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_inner=37, n_positions=64,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="gptj",
    embeddings="wte",
    stacks=(
        LayerStackSpec(
            name="decoder",
            path="h",
            self_attention=AttentionSpec(
                module="attn", output="attn.out_proj", q="attn.q_proj", k="attn.k_proj", v="attn.v_proj"
            ),
            ffn_in="mlp.fc_in",
            ffn_out="mlp.fc_out",
            # one norm feeds both branches: it is the attention's and the FFN's
            attention_norm="ln_1",
            ffn_norm="ln_1",
            norm_position="pre",
            causal=True,
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="gptj",
        modality="decoder",
        make_config=tiny_config,
        base_class="GPTJModel",
        layouts=(LAYOUT,),
        **decoder_heads("GPTJ", ("ForCausalLM", "ForSequenceClassification", "ForQuestionAnswering")),
    ),
    module=__name__,
)
