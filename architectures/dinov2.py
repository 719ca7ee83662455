"""DINOv2: a pre-norm ViT with layer scale, under its own module names (norm1 / norm2, mlp.fc1 / fc2)."""

from .heads import HeadMap
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


def tiny_config():
    from transformers import Dinov2Config

    return Dinov2Config(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        mlp_ratio=1, out_indices=[1, 2],
    )  # fmt: skip


def _layout(name: str, attention: AttentionSpec) -> ModuleLayout:
    stack = LayerStackSpec(
        name="encoder",
        path="encoder.layer",
        self_attention=attention,
        ffn_in="mlp.fc1",
        ffn_out="mlp.fc2",
        attention_norm="norm1",
        ffn_norm="norm2",
        norm_position="pre",
    )
    return ModuleLayout(name=name, embeddings="embeddings.patch_embeddings", stacks=(stack,))


FLAT = _layout(
    "dinov2",
    AttentionSpec(
        module="attention", output="attention.o_proj", q="attention.q_proj", k="attention.k_proj", v="attention.v_proj"
    ),
)
# transformers 4.x
NESTED = _layout(
    "dinov2-nested",
    AttentionSpec(
        module="attention.attention",
        output="attention.output.dense",
        q="attention.attention.query",
        k="attention.attention.key",
        v="attention.attention.value",
    ),
)

SPEC = register(
    ArchitectureSpec(
        name="dinov2",
        modality="vision",
        make_config=tiny_config,
        base_class="Dinov2Model",
        head_classes=("Dinov2ForImageClassification", "Dinov2Backbone"),
        layouts=(FLAT, NESTED),
        heads=HeadMap(
            gaps={
                "Dinov2ForImageClassification": "classifies the class token concatenated with the mean of the patch "
                "tokens (an input twice the hidden size); a flexible head reads one position",
                "Dinov2Backbone": "returns feature maps for a detection or segmentation model, not predictions",
            },
        ),
    ),
    module=__name__,
)
