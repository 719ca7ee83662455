"""ModernBERT: a pre-norm text encoder with rotary positions, a fused q/k/v projection ([q; k; v]), a gated FFN with
a fused input projection (Wi gives [input; gate]: Wo(act(input) * gate)), no biases, and alternating global / local
(sliding-window) attention layers. Adapters sit as in every pre-norm layer; LoRA / IA3 on ``ffn_in`` adapt the whole
fused Wi (input and gate halves). A prefix is seen by every query, in local layers too: it has no position, so no
window excludes it.
"""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import ModernBertConfig

    # local_attention 4: a 2-token half window, so the 8-token inputs of the checks see the local layer's window.
    # initializer_range 0.1: at the default 0.02 the layers' branches are ~1e-3 of the normed embeddings they add
    # to, and an adapter's effect hides under the checks' 1e-4 tolerances (IA3's Stack(a, b) vs a differed by 1e-4)
    return ModernBertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, local_attention=4, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        cls_token_id=1, sep_token_id=2, initializer_range=0.1,
    )  # fmt: skip


LAYOUT = ModuleLayout(
    name="modernbert",
    embeddings="embeddings.tok_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="layers",
            self_attention=AttentionSpec(module="attn", output="attn.Wo", qkv="attn.Wqkv", qkv_layout="blocked"),
            ffn_in="mlp.Wi",  # [input; gate] fused: Wo(act(input) * gate)
            ffn_out="mlp.Wo",
            attention_norm="attn_norm",  # an Identity in the first layer (the embeddings end in a norm)
            ffn_norm="mlp_norm",
            norm_position="pre",
        ),
    ),
)

# every head runs the prediction head (dense -> classifier_activation -> LayerNorm) before its output layer
HEAD_ACTIVATION = "config:classifier_activation"

SPEC = register(
    ArchitectureSpec(
        name="modernbert",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="ModernBertModel",
        head_classes=(
            "ModernBertForSequenceClassification",
            "ModernBertForMultipleChoice",
            "ModernBertForTokenClassification",
            "ModernBertForQuestionAnswering",
            "ModernBertForMaskedLM",
        ),
        layouts=(LAYOUT,),
        heads=HeadMap(
            mapped=(
                StaticHead("ModernBertForSequenceClassification", "classification", activation=HEAD_ACTIVATION),
                StaticHead("ModernBertForMultipleChoice", "multiple_choice", activation=HEAD_ACTIVATION),
                StaticHead("ModernBertForTokenClassification", "tagging", activation=HEAD_ACTIVATION),
                StaticHead("ModernBertForQuestionAnswering", "question_answering", activation=HEAD_ACTIVATION),
                StaticHead("ModernBertForMaskedLM", "masked_lm", activation=HEAD_ACTIVATION),
            ),
        ),
    ),
    module=__name__,
)
