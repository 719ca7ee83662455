"""DeiT: ViT's modules with a distillation token next to the class token."""

from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec
from .vit import FLAT_LAYOUT, NESTED_LAYOUT


def tiny_config():
    from transformers import DeiTConfig

    return DeiTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="deit",
        modality="vision",
        make_config=tiny_config,
        base_class="DeiTModel",
        head_classes=(
            "DeiTForImageClassification",
            "DeiTForImageClassificationWithTeacher",
            "DeiTForMaskedImageModeling",
        ),
        layouts=(FLAT_LAYOUT, NESTED_LAYOUT),
        heads=HeadMap(
            mapped=(StaticHead("DeiTForImageClassification", "image_classification"),),  # reads the class token
            gaps={
                "DeiTForImageClassificationWithTeacher": "averages two classifiers, one on the class token and one "
                "on the distillation token; a flexible head reads one position",
                "DeiTForMaskedImageModeling": "reconstructs pixels for self-supervised pre-training; no flexible "
                "head type predicts images",
            },
        ),
    ),
    module=__name__,
)
