"""BEiT: ViT's modules with layer scale and a relative position bias; classifies from the mean of the patch tokens."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec
from .vit import FLAT_LAYOUT, NESTED_LAYOUT


def tiny_config():
    from transformers import BeitConfig

    return BeitConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=37, vocab_size=128, out_indices=[0, 1, 2, 3],  # 4.x segmentation takes exactly 4
    )  # fmt: skip


DENSE_PREDICTION = "predicts a map over the image (dense prediction); no flexible head type predicts maps"

SPEC = register(
    ArchitectureSpec(
        name="beit",
        modality="vision",
        make_config=tiny_config,
        base_class="BeitModel",
        head_classes=(
            "BeitForImageClassification",
            "BeitForMaskedImageModeling",
            "BeitForSemanticSegmentation",
            "BeitBackbone",
        ),
        layouts=(FLAT_LAYOUT, NESTED_LAYOUT),
        heads=HeadMap(
            # the pooler averages the patch tokens and normalises them: the flexible head reads the pooler too
            mapped=(StaticHead("BeitForImageClassification", "image_classification", use_pooler=True),),
            gaps={
                "BeitForMaskedImageModeling": "predicts visual tokens of masked patches for pre-training; no "
                "flexible head type predicts per-patch tokens",
                "BeitForSemanticSegmentation": DENSE_PREDICTION,
                "BeitBackbone": "returns feature maps for a detection or segmentation model, not predictions",
            },
        ),
    ),
    module=__name__,
)
