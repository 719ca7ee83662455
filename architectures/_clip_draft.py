"""DRAFT, not registered (a module whose name starts with "_" is no architecture): CLIP's dual text-image model.

Rename to clip.py once the suite can certify it. What a full ``--arch=clip`` run on transformers 5.24.0 showed
(92 failed, 710 passed, 631 skipped, with the gaps below):

- The compared output: ``main_output`` of a CLIPOutput is ``logits_per_image``, a (images, texts) matrix, so rows
  of the batch are not examples: Parallel and BatchSplit compare the wrong rows (not a gap: the dual model needs a
  per-example output to compare, e.g. text_embeds and image_embeds, which the Modality should name).
- CLIPModel (5.x) has no get_input_embeddings (NotImplementedError): the invertible checks and oracle find the token
  embeddings through it; they should use the layout's ``embeddings`` path or text_model.get_input_embeddings().
- ReFT oracle: "the vision attention mask was not captured": the vision tower takes no attention mask.
- prefix-tuning checks padding_stays_invisible / left_out_layer_is_untouched and the placement check
  q_and_k_adapters_cannot_change_a_single_token build inputs for one tower only (a one-token text with a 30x30 image,
  a one-channel image).
- Split is a real gap (below): the two towers' sequences differ in length (8 text tokens, 10 patches).
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
