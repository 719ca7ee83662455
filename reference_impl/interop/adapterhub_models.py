"""AdapterHub ``adapters`` 1.3 per model type: which are mapped, where each keeps its adapters' tensors (by module
layout, from the spec), and what is refused where AdapterHub runs otherwise than its files say. Data for
``reference_impl.interop.adapterhub``; each entry checked against AdapterHub in tests/test_adapters_interop.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..configs import AdapterConfig
from ..methods.hub_placement import PLACERS


# The model types whose AdapterHub 1.3 key names are mapped, each checked against AdapterHub itself
# (tests/test_adapters_interop.py); other model types are refused.
MODEL_TYPES = (
    "albert", "bart", "beit", "bert", "bert_generation", "clip", "deberta", "deberta_v2", "distilbert", "electra",
    "encoder_decoder", "gemma2", "gemma3_text", "gpt2", "gptj", "llama", "mbart", "mistral", "modernbert", "mt5",
    "phi", "plbart", "qwen2", "qwen3", "roberta", "t5", "vit", "whisper", "xlm_roberta", "xmod",
)  # fmt: skip
# AdapterHub's bottleneck layer of each reference bottleneck site, per module layout (the spec's layout name), relative
# to the layer: "{parent}" / "{grandparent}" is the site's projection one / two levels up (BERT-like models make the
# sub-layer's output module the adapter layer, T5 its sub-layer); a bare name is a module AdapterHub adds to the layer.
_BERT_LIKE = {"self_attention.output": "{parent}", "ffn_out": "{parent}"}
_ADDED = {"self_attention.output": "attention_adapters", "ffn_out": "output_adapters"}
_T5_LIKE = {"self_attention.output": "{grandparent}", "ffn_out": "{grandparent}"}
HOLDERS: dict[str, dict[str, str]] = {
    **dict.fromkeys(("bert", "bert2bert", "deberta", "deberta_v2"), _BERT_LIKE),
    **dict.fromkeys(("t5", "mt5"), _T5_LIKE),
    **dict.fromkeys(
        ("bart", "mbart", "plbart", "whisper", "clip", "distilbert", "gpt2", "llama", "modernbert"), _ADDED
    ),
    "albert": {"self_attention.output": "{parent}.attention_adapters", "ffn_out": "output_adapters"},
    "vit-nested": {"self_attention.output": "attention_adapters", "ffn_out": "{parent}.output_adapters"},
    # by model type where it departs from its layout's (seen in AdapterHub's files; placement="adapterhub" only)
    **dict.fromkeys(("beit", "gemma2", "gemma3_text", "gptj", "phi"), _ADDED),
}
# Prefix tuning: AdapterHub's model-level pool ``prefix_tuning.prefix_tunings.<name>.<pool>`` is also saved under every
# attention (self and cross) of every layer (``<layer>.<attention>.prefix_tuning.pool.prefix_tunings...``, the spec's
# attention module). The pool of each reference pool (``<stack>_<kind>``): per layout, else by kind.
PREFIX_POOLS = {"self_attention": "self_prefix", "cross_attention": "cross_prefix"}
_SEQ2SEQ_POOLS = {"encoder_self_attention": "encoder_prefix"}
PREFIX_POOLS_OF: dict[str, dict[str, str]] = {
    **dict.fromkeys(("bart", "mbart", "plbart", "whisper", "t5", "mt5"), _SEQ2SEQ_POOLS),
    "distilbert": {"encoder_self_attention": "self"},
    "clip": {
        "text_self_attention": "clip_text_model_self_prefix",
        "vision_self_attention": "clip_vision_model_self_prefix",
    },
}
# Where a model's towers keep their own pools (a BERT2BERT: the encoder's and the decoder's BertModel), the tower of
# each stack: its pools are under ``<tower>.prefix_tuning...``, saved again under the attentions of its own layers only.
PREFIX_TOWERS: dict[str, dict[str, str]] = {"bert2bert": {"encoder": "encoder", "decoder": "decoder.bert"}}
_NO_PREFIX = "AdapterHub 1.3 has no prefix tuning for this model"
# (model type, what) -> why the map refuses it: what AdapterHub runs differs from what its file says, or AdapterHub
# has no such adapter. ``what``: a method family, or "mh_adapter" (a bottleneck after the attention), "parallel" (a
# parallel bottleneck), "leave_out".
REFUSED: dict[tuple[str, str], str] = {
    **{(t, "prefix_tuning"): _NO_PREFIX for t in ("gemma2", "gemma3_text", "phi", "qwen2", "qwen3", "modernbert")},
    ("phi", "parallel"): (
        "AdapterHub's Phi gives the FFN's adapter no residual input, so a parallel adapter has nothing to read "
        "(AdapterHub 1.3 crashes on it: docs/adapters/repro/phi.py)"
    ),
    ("albert", "mh_adapter"): (
        "AdapterHub's ALBERT passes the attention's input, not its output, to the adapter after the attention "
        "(docs/adapters/repro/albert_mh_adapter.py)"
    ),
    ("encoder_decoder", "mh_adapter"): (
        "AdapterHub adds an adapter after a BERT2BERT decoder's cross-attention too (docs/adapters/repro/bert2bert.py)"
    ),
    ("encoder_decoder", "leave_out"): (
        "AdapterHub numbers a BERT2BERT's encoder and decoder layers each from 0 (docs/adapters/repro/bert2bert.py)"
    ),
}
# AdapterHub 1.3 runs on transformers 4.x and names tensors by its module trees: a model transformers 5 builds with
# other modules (another layout of the spec) has none of those names (layout name -> why)
OTHER_TREES = {
    "vit-flat": (
        "transformers 5 builds ViT and BEiT with other modules (layers.<i>.attention.q_proj, ...) than the 4.x ones "
        "AdapterHub 1.3 names its tensors by (encoder.layer.<i>.attention.attention.query, ...)"
    ),
}
# AdapterHub's Llama and Mistral name their FFN projections the other way round (docs/adapters/repro/llama_ffn_lora.py):
# its output_lora adapts up_proj, the reference's intermediate_lora; the file's flags are swapped on the way
FFN_LORA_SWAPPED = ("llama", "mistral")


def check_mapped(spec: Any, config: AdapterConfig, layout: str | None = None) -> None:
    """ValueError unless the map covers ``config`` on a model of ``spec`` built with module layout ``layout``
    (``MODEL_TYPES``, ``OTHER_TREES``, ``REFUSED``)."""
    if spec.name not in MODEL_TYPES:
        raise ValueError(
            f"AdapterHub checkpoint interop maps {', '.join(MODEL_TYPES)} models, not {spec.name!r} (AdapterHub's "
            "module names differ per model type; each mapped one is checked against AdapterHub)"
        )
    if layout in OTHER_TREES:
        raise ValueError(f"AdapterHub checkpoint interop does not map this {spec.name!r} model: {OTHER_TREES[layout]}")
    family = config.method
    parts = [family]
    if family == "bottleneck" and config.mh_adapter:
        parts.append("mh_adapter")
    if family == "bottleneck" and config.is_parallel:
        parts.append("parallel")
    if list(getattr(config, "leave_out", ())):
        parts.append("leave_out")
    if family == "bottleneck" and spec.name in PLACERS and config.placement != "adapterhub":
        raise ValueError(
            f"AdapterHub checkpoint interop maps bottleneck adapters on {spec.name!r} with placement='adapterhub' only: "
            f"AdapterHub places them otherwise than placement={config.placement!r} there (docs/adapters/placement.md), "
            "so its copy would compute something else; add the adapter with placement='adapterhub' to save it"
        )
    gap = spec.gap_reason(family)
    if gap:
        raise ValueError(f"AdapterHub checkpoint interop does not map {family} on {spec.name!r}: {gap}")
    for part in parts:
        reason = REFUSED.get((spec.name, part))
        if reason:
            raise ValueError(f"AdapterHub checkpoint interop does not map {part} on {spec.name!r}: {reason}")
    if family == "lora" and config.selfattn_lora and config.attn_matrices:
        for stack in (
            s for layout in spec.layouts for s in layout.stacks
        ):  # a fused q/k/v AdapterHub slices as [q | k | v] blocks only
            if stack.self_attention.fused and stack.self_attention.qkv_layout != "blocked":
                raise ValueError(
                    f"AdapterHub checkpoint interop does not map LoRA or IA3 on the attention of {spec.name!r}: "
                    "AdapterHub takes its fused projection's rows as [q | k | v] blocks, the model orders them per "
                    "head (docs/adapters/repro/deberta_fused_qkv.py)"
                )


def model_type_of(payload_type: Any) -> Any:
    """AdapterHub writes transformers' model type ("xlm-roberta"); the reference names it as its spec ("xlm_roberta")."""
    return payload_type.replace("-", "_") if isinstance(payload_type, str) else payload_type


def swap_ffn_lora(config: AdapterConfig, model_type: str) -> AdapterConfig:
    """The LoRA-family config with intermediate_lora and output_lora swapped where AdapterHub names them the other
    way round (``FFN_LORA_SWAPPED``); the same mapping both ways."""
    if model_type not in FFN_LORA_SWAPPED or not hasattr(config, "intermediate_lora"):
        return config
    return replace(config, intermediate_lora=config.output_lora, output_lora=config.intermediate_lora)
