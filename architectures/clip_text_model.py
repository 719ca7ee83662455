"""CLIP's text tower on its own (CLIPTextModel): a causal pre-norm text encoder whose pooled output is the <eos> state.

``clip_stack`` (one tower's layer stack) and the tiny tower configs serve the vision tower (``clip_vision_model``)
too; the two towers' layers are the same module classes."""

from .heads import HeadMap
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


TINY_TOWER = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, projection_dim=16)


def text_config():
    from transformers import CLIPTextConfig

    # token ids inside the tiny vocabulary (the defaults, 49406 and 49407, are not); the tower pools at <eos>
    return CLIPTextConfig(
        vocab_size=128, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, **TINY_TOWER
    )


def vision_config():
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(image_size=30, patch_size=10, **TINY_TOWER)  # 9 patches and the class token


def clip_stack(name: str, path: str, causal: bool) -> LayerStackSpec:
    """One tower's layer stack: pre-norm, separate q/k/v; the text tower's attention is causal."""
    return LayerStackSpec(
        name=name,
        path=path,
        self_attention=AttentionSpec(
            module="self_attn",
            output="self_attn.out_proj",
            q="self_attn.q_proj",
            k="self_attn.k_proj",
            v="self_attn.v_proj",
        ),
        ffn_in="mlp.fc1",
        ffn_out="mlp.fc2",
        attention_norm="layer_norm1",
        ffn_norm="layer_norm2",
        norm_position="pre",
        causal=causal,
    )


# Every class of CLIP's modeling module besides a tower's base class: none converts to a flexible head
TOWER_GAPS = {
    "CLIPModel": "is the dual text-image model: it scores texts against images from both towers' pooled, "
    "projected outputs, and no flexible head type reads two inputs",
    "CLIPTextModel": "is CLIP's text tower alone, a base model registered as the architecture clip_text_model",
    "CLIPVisionModel": "is CLIP's vision tower alone, a base model registered as the architecture clip_vision_model",
    "CLIPTextModelWithProjection": "projects the text tower's pooled <eos> state into CLIP's joint text-image "
    "embedding space, for contrastive matching: an embedding, not a prediction, and no flexible head type is one",
    "CLIPVisionModelWithProjection": "projects the vision tower's pooled class token into CLIP's joint text-image "
    "embedding space, for contrastive matching: an embedding, not a prediction, and no flexible head type is one",
    "CLIPForImageClassification": "classifies the mean of the vision tower's patch states; a flexible head reads one "
    "position",
}

PROMPT_GAP = (
    "prompt tuning feeds trained embeddings in through inputs_embeds, and CLIP's text tower takes input_ids only (it "
    "finds the <eos> it pools at in them): there is no way in for a prompt"
)


def _layout(name: str, prefix: str) -> ModuleLayout:
    return ModuleLayout(
        name=name,
        embeddings=f"{prefix}embeddings.token_embedding",
        stacks=(clip_stack("encoder", f"{prefix}encoder.layers", causal=True),),
    )


OTHERS = {k: v for k, v in TOWER_GAPS.items() if k != "CLIPTextModel"}

SPEC = register(
    ArchitectureSpec(
        name="clip_text_model",
        modality="text_encoder",
        make_config=text_config,
        base_class="CLIPTextModel",
        head_classes=tuple(OTHERS),
        # transformers 5.x keeps the modules on CLIPTextModel itself; 4.x under text_model (CLIPTextTransformer)
        layouts=(_layout("clip-text-flat", ""), _layout("clip-text-nested", "text_model.")),
        gaps={"prompt_tuning": PROMPT_GAP},
        heads=HeadMap(
            gaps=OTHERS,
            # the tower is causal: a sequence head reads the last token, which sees the whole input (as the <eos>
            # CLIP pools at does), not the first, which sees only itself
            pooling="last",
            # transformers has no LM class of this tower to check an LM head against: none offered
            head_types=(
                "classification",
                "multilabel_classification",
                "tagging",
                "multiple_choice",
                "question_answering",
            ),
        ),
    ),
    module=__name__,
)
