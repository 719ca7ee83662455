"""CLIP's dual text-image model (CLIPModel): a causal text tower and a vision tower, scored against each other.

The two towers are the layer stacks of one layout (text first, as AdapterHub counts CLIP's layers), so an adapter
sits in both unless ``leave_out`` says otherwise. What the suite compares is both towers' last hidden states, one
after the other (``conformance.models.main_output``): the scores mix examples (texts against images), so Parallel
and BatchSplit could not read their rows. Each tower's ReFT positions come from its own inputs (the vision tower
takes no mask: every patch). The text tower's tokens can be padded, the image's patches cannot: a one-token probe
does not apply, and Split, which cuts one sequence, has no one sequence to cut.
"""

from .clip_text_model import TOWER_GAPS, clip_stack, text_config, vision_config
from .heads import HeadMap
from .registry import register
from .spec import ArchitectureSpec, ModuleLayout


def tiny_config():
    from transformers import CLIPConfig

    return CLIPConfig(text_config=text_config().to_dict(), vision_config=vision_config().to_dict(), projection_dim=16)


# Layers are counted across the towers, text first (as AdapterHub counts CLIP's layers)
LAYOUT = ModuleLayout(
    name="clip",
    embeddings="text_model.embeddings.token_embedding",
    stacks=(
        clip_stack("text", "text_model.encoder.layers", causal=True),
        clip_stack("vision", "vision_model.encoder.layers", causal=False),
    ),
)

NO_FLEXIBLE_MODEL = (
    "CLIPModel scores texts against images (logits_per_image) from two towers' pooled, projected outputs; no flexible "
    "head type reads two inputs at once, so there is no adapter model with flexible heads over it, nor a class of "
    "the family that converts to one (AdapterHub likewise has no CLIPAdapterModel: use CLIPModel)"
)
ON_FLEXIBLE_MODEL = (
    "the suite checks this on the adapter model with flexible heads, which the dual model does not have (see "
    "adapter_model); the adapters themselves are checked on CLIPModel"
)
OTHERS = {k: v for k, v in TOWER_GAPS.items() if k != "CLIPModel"}

SPEC = register(
    ArchitectureSpec(
        name="clip",
        modality="text_image",
        make_config=tiny_config,
        base_class="CLIPModel",
        head_classes=tuple(OTHERS),
        layouts=(LAYOUT,),
        gaps={
            **{feature: NO_FLEXIBLE_MODEL for feature in ("adapter_model", "heads", "class_conversion")},
            **{feature: ON_FLEXIBLE_MODEL for feature in ("accelerate", "torch_compile", "bfloat16", "trainer")},
            "prompt_tuning": "prompt tuning feeds trained embeddings in through inputs_embeds, and CLIP's text tower "
            "takes input_ids only: there is no way in for a prompt",
            "split": "Split hands positions of one sequence to different adapters; the text and vision towers' "
            "sequences differ in length, so one split cannot fit both",
        },
        heads=HeadMap(gaps=OTHERS),
    ),
    module=__name__,
)
