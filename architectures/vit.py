"""ViT: pre-norm vision encoder over image patches. transformers 5.x flattened its modules; both layouts are listed."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import ViTConfig

    return ViTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=37,
    )  # fmt: skip


FLAT_LAYOUT = ModuleLayout(
    name="vit-flat",
    embeddings="embeddings.patch_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="layers",
            self_attention=AttentionSpec(
                module="attention",
                output="attention.o_proj",
                q="attention.q_proj",
                k="attention.k_proj",
                v="attention.v_proj",
            ),
            ffn_in="mlp.fc1",
            ffn_out="mlp.fc2",
            attention_norm="layernorm_before",
            ffn_norm="layernorm_after",
            norm_position="pre",
        ),
    ),
)

# transformers 4.57 up to the 5.x release that flattened ViT
NESTED_LAYOUT = ModuleLayout(
    name="vit-nested",
    embeddings="embeddings.patch_embeddings",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.layer",
            self_attention=AttentionSpec(
                module="attention.attention",
                output="attention.output.dense",
                q="attention.attention.query",
                k="attention.attention.key",
                v="attention.attention.value",
            ),
            ffn_in="intermediate.dense",
            ffn_out="output.dense",
            attention_norm="layernorm_before",
            ffn_norm="layernorm_after",
            norm_position="pre",
        ),
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="vit",
        modality="vision",
        make_config=tiny_config,
        base_class="ViTModel",
        head_classes=("ViTForImageClassification", "ViTForMaskedImageModeling"),
        layouts=(FLAT_LAYOUT, NESTED_LAYOUT),
        heads=HeadMap(
            mapped=(StaticHead("ViTForImageClassification", "image_classification"),),  # reads the class token
            gaps={
                "ViTForMaskedImageModeling": "reconstructs pixels for self-supervised pre-training (a convolutional "
                "decoder with pixel shuffle); no flexible head type predicts images",
            },
        ),
    ),
    module=__name__,
)
