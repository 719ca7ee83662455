"""GPT-2: pre-norm causal decoder; projections are transformers' Conv1D (weights stored transposed), q/k/v fused."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=128, n_embd=32, n_layer=3, n_head=4, n_positions=64,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="gpt2",
        modality="decoder",
        make_config=tiny_config,
        base_class="GPT2Model",
        head_classes=(
            "GPT2LMHeadModel",
            "GPT2DoubleHeadsModel",
            "GPT2ForSequenceClassification",
            "GPT2ForTokenClassification",
            "GPT2ForQuestionAnswering",
        ),
        layouts=(
            ModuleLayout(
                name="gpt2",
                embeddings="wte",
                stacks=(
                    LayerStackSpec(
                        name="decoder",
                        path="h",
                        self_attention=AttentionSpec(
                            module="attn", output="attn.c_proj", qkv="attn.c_attn", qkv_layout="blocked"
                        ),
                        ffn_in="mlp.c_fc",
                        ffn_out="mlp.c_proj",
                        attention_norm="ln_1",
                        ffn_norm="ln_2",
                        norm_position="pre",
                        causal=True,
                    ),
                ),
            ),
        ),
        heads=HeadMap(
            mapped=(
                StaticHead("GPT2LMHeadModel", "causal_lm"),
                StaticHead("GPT2ForSequenceClassification", "classification"),  # reads the last non-pad token
                StaticHead("GPT2ForTokenClassification", "tagging"),
                StaticHead("GPT2ForQuestionAnswering", "question_answering"),
            ),
            gaps={
                "GPT2DoubleHeadsModel": "predicts two tasks at once (LM logits and multiple-choice logits) and a "
                "flexible head predicts one; convert its LM part as GPT2LMHeadModel",
            },
        ),
    ),
    module=__name__,
)
