"""CLIP's vision tower on its own (CLIPVisionModel): a pre-norm ViT-style encoder over image patches and a class
token."""

from .clip_text_model import TOWER_GAPS, clip_stack, vision_config
from .heads import HeadMap
from .registry import register
from .spec import ArchitectureSpec, ModuleLayout


def _layout(name: str, prefix: str) -> ModuleLayout:
    return ModuleLayout(
        name=name,
        embeddings=f"{prefix}embeddings.patch_embedding",
        stacks=(clip_stack("encoder", f"{prefix}encoder.layers", causal=False),),
    )


INVERTIBLE_GAP = (
    "an invertible adapter couples the two halves of each vector that get_input_embeddings() puts out; CLIP's vision "
    "tower answers with its patch Conv2d, whose output is a (batch, hidden, rows, columns) feature map, not vectors "
    "(CLIPVisionEmbeddings flattens it and adds the class token and positions afterwards); AdapterHub puts CLIP's "
    "invertible adapters on the text embeddings only"
)

OTHERS = {k: v for k, v in TOWER_GAPS.items() if k != "CLIPVisionModel"}

SPEC = register(
    ArchitectureSpec(
        name="clip_vision_model",
        modality="vision",
        make_config=vision_config,
        base_class="CLIPVisionModel",
        head_classes=tuple(OTHERS),
        # transformers 5.x keeps the modules on CLIPVisionModel itself; 4.x under vision_model
        layouts=(_layout("clip-vision-flat", ""), _layout("clip-vision-nested", "vision_model.")),
        gaps={key: INVERTIBLE_GAP for key in ("invertible", "seq_bn_inv", "double_seq_bn_inv")},
        heads=HeadMap(gaps=OTHERS),
    ),
    module=__name__,
)
