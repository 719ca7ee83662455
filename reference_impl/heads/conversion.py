"""Static head classes <-> the adapter model with flexible heads, driven by the spec's head map.

``from_static(BertForSequenceClassification)`` gives an adapter model whose head ``default`` computes the same logits;
``to_static(model, head)`` gives back an instance of the static class. Adapters and fusions come along; weights the
other side has no place for are an error, never silently dropped.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch

from architectures import registry
from architectures.heads import LABELLED_HEADS, SEQUENCE_HEADS, DerivedHead, derive, transformers_class
from architectures.live import get_path
from architectures.spec import ArchitectureSpec

from ..composition import Fuse
from .config import HeadConfig
from .modules import num_outputs


if TYPE_CHECKING:
    from torch import nn

    from .model import AdapterModel

# The HeadConfig fields a static class fixes; compared when a head becomes a static class again.
STRUCTURE = (
    "layers",
    "activation",
    "layer_norm",
    "bias",
    "hidden_bias",
    "norm_bias",
    "use_pooler",
    "tie_output",
    "scale_hidden",
)


def head_config(derived: DerivedHead, static_config: Any) -> HeadConfig:
    """The flexible head config of a derived static head, with the static config's labels."""
    options = derived.options
    kind = options["head_type"]
    fields: dict[str, Any] = {name: options[name] for name in STRUCTURE}
    fields["norm_eps"] = options["norm_eps"]
    if kind in SEQUENCE_HEADS and not options["use_pooler"]:
        fields["pooling"] = options["pooling"]
    if kind in LABELLED_HEADS:
        fields["num_labels"] = options["num_outputs"]
        id2label = getattr(static_config, "id2label", None) or {}
        if len(id2label) == options["num_outputs"]:
            fields["id2label"] = id2label
        if getattr(static_config, "problem_type", None) == "multi_label_classification":
            if kind == "classification":
                kind = "multilabel_classification"
            fields["multilabel"] = True
    return HeadConfig(kind, **fields)


def lm_head_options(model: AdapterModel, kind: str) -> dict[str, Any]:
    """The structure of the family's own LM head of type ``kind`` (from its static class), for a new LM head."""
    spec = model.adapter_state.spec
    entry = next((m for m in (spec.heads.mapped if spec.heads else ()) if m.head_type == kind), None)
    if entry is None:
        tie = bool(getattr(model.config, "tie_word_embeddings", False))
        return {"layers": 1, "tie_output": tie}
    with torch.device("meta"):  # only the structure is read: no memory, no initialisation
        static = getattr(_transformers(), entry.class_name)(copy.deepcopy(model.config))
    static.tie_weights()  # transformers 5.0 leaves a model built on the meta device untied
    options = derive(spec, static).options
    return {name: options[name] for name in (*STRUCTURE, "norm_eps") if name != "use_pooler"}


def _transformers() -> Any:
    import transformers

    return transformers


def _alias_groups(state: dict[str, torch.Tensor]) -> dict[str, set[str]]:
    """For each key, every key of the same tensor (tied weights appear under several names)."""
    by_storage: dict[tuple[int, tuple[int, ...]], set[str]] = {}
    for key, value in state.items():
        by_storage.setdefault((value.data_ptr(), tuple(value.shape)), set()).add(key)
    return {key: group for group in by_storage.values() for key in group}


def _add_adapters(source: Any, target: Any) -> None:
    state = getattr(source, "adapter_state", None)
    if state is None:
        return
    for name, config in state.configs.items():
        target.add_adapter(name, config)
    for name, config in getattr(state, "fusions", {}).items():
        target.add_adapter_fusion(Fuse(*name.split(",")), config)


def _activate_adapters(source: Any, target: Any) -> None:
    state = getattr(source, "adapter_state", None)
    if state is not None and state.active is not None:
        target.set_active_adapters(state.active)


def _slot_keys(derived: DerivedHead, static: nn.Module, head: nn.Module) -> dict[str, str]:
    """static weight key -> head weight key, for every weight of every slot."""
    keys = {}
    for slot, path in derived.slots.items():
        module = get_path(static, path)
        for name, _ in module.named_parameters(recurse=False):
            keys[f"{path}.{name}"] = f"{slot}.{name}"
    missing = [k for k in keys.values() if k not in dict(head.named_parameters(remove_duplicate=False))]
    if missing:
        raise ValueError(f"{derived.class_name}: the flexible head has no weights {missing}")
    return keys


# Buffers added to the logits after the LM head (BART's family): dropping one that is all zeros changes nothing; a
# non-zero one has no place in a flexible head, so the conversion refuses it.
ADDITIVE_LOGIT_BUFFERS = ("final_logits_bias",)


def _droppable(key: str, value: torch.Tensor) -> bool:
    return key.rsplit(".", 1)[-1] in ADDITIVE_LOGIT_BUFFERS and not bool(value.any())


def from_static(static: nn.Module, head_name: str = "default", spec: ArchitectureSpec | None = None) -> AdapterModel:
    """An adapter model with ``static``'s base weights, adapters and head (as head ``head_name``)."""
    from .model import AdapterModel

    spec = spec or getattr(getattr(static, "adapter_state", None), "spec", None)
    spec = spec or registry.get(static.config.model_type)
    derived = derive(spec, static)
    model = AdapterModel(copy.deepcopy(static.config), spec)
    _add_adapters(static, model)
    model.add_head(head_name, head_config(derived, static.config))
    source = static.state_dict()
    aliases = _alias_groups(source)
    used: set[str] = set()
    prefix = derived.base_prefix + "." if derived.base_prefix else ""
    base_target = {}
    for key in model.base_model.state_dict():
        if prefix + key in source:
            base_target[key] = source[prefix + key]
            used |= aliases[prefix + key]
    head = model.heads[head_name]
    head_target = {}
    for static_key, head_key in _slot_keys(derived, static, head).items():
        head_target[head_key] = source[static_key]
        used |= aliases[static_key]
    left = sorted(k for k in set(source) - used if not _droppable(k, source[k]))
    if left:
        raise ValueError(unplaced_weights_message(derived, left))
    with torch.no_grad():
        model.base_model.load_state_dict(base_target, strict=False)
        params = dict(head.named_parameters(remove_duplicate=False))
        for key, value in head_target.items():
            if not (head.config.tie_output and key == "output.weight"):  # the tied weight came with the base
                params[key].copy_(value)
    _activate_adapters(static, model)
    model.active_head = head_name
    return model.train(static.training)


def to_static(model: AdapterModel, head_name: str | None = None, class_name: str | None = None) -> nn.Module:
    """Head ``head_name`` (default: the active head) and the base model as an instance of a static head class."""
    from ..model import init

    name = model._require_head(head_name or model.active_head)
    config = model.heads[name].config
    spec = model.adapter_state.spec
    class_name = _static_class_for(spec, config, class_name)
    static_config = copy.deepcopy(model.config)
    if config.id2label is not None:
        static_config.num_labels = config.num_labels
        static_config.id2label = dict(config.id2label)
        static_config.label2id = config.label2id
    if config.multilabel:
        static_config.problem_type = "multi_label_classification"
    static = getattr(_transformers(), class_name)(static_config)
    derived = derive(spec, static)
    _check_structure(derived, config, model.config, name)
    if getattr(model.adapter_state, "configs", None):
        init(static, spec)
        _add_adapters(model, static)
    head = model.heads[name]
    head_params = dict(head.named_parameters(remove_duplicate=False))
    slot_keys = _slot_keys(derived, static, head)
    base_source = model.base_model.state_dict()
    prefix = derived.base_prefix + "." if derived.base_prefix else ""
    target_state = static.state_dict()
    aliases = _alias_groups(target_state)
    target: dict[str, torch.Tensor] = {}
    for key in target_state:
        if key in slot_keys:
            target[key] = head_params[slot_keys[key]].detach()
        elif key.startswith(prefix) and key[len(prefix) :] in base_source:
            target[key] = base_source[key[len(prefix) :]]
        elif key.rsplit(".", 1)[-1] in ADDITIVE_LOGIT_BUFFERS:
            target[key] = torch.zeros_like(target_state[key])  # the flexible head adds nothing after its output
    unfilled = sorted(k for k in target_state if not aliases[k] & set(target))
    if unfilled:
        raise ValueError(f"{class_name} needs weights the adapter model does not have: {unfilled[:5]}")
    with torch.no_grad():
        static.load_state_dict(target, strict=False)
    _activate_adapters(model, static)
    return static.train(model.training)


def _static_class_for(spec: ArchitectureSpec, config: HeadConfig, class_name: str | None) -> str:
    kind = "classification" if config.head_type == "multilabel_classification" else config.head_type
    candidates = [m.class_name for m in (spec.heads.mapped if spec.heads else ()) if m.head_type == kind]
    if class_name is None:
        if len(candidates) != 1:
            raise ValueError(
                f"a {config.head_type} head of {spec.name} maps to {candidates or 'no static class'}; "
                "pass class_name= to choose"
            )
        return candidates[0]
    if class_name not in candidates:
        raise ValueError(
            f"{class_name} is not a static class for a {config.head_type} head of {spec.name}; "
            f"it maps to {', '.join(candidates) or 'none'}"
        )
    return class_name


def _check_structure(derived: DerivedHead, config: HeadConfig, model_config: Any, name: str) -> None:
    wanted = {key: derived.options[key] for key in STRUCTURE}
    have = {key: getattr(config, key) for key in STRUCTURE}
    if config.head_type in SEQUENCE_HEADS and not config.use_pooler:
        wanted["pooling"], have["pooling"] = derived.options["pooling"], config.pooling
    wanted["outputs"], have["outputs"] = derived.options["num_outputs"], num_outputs(config, model_config)
    differing = {key: (have[key], wanted[key]) for key in wanted if have[key] != wanted[key]}
    if differing:
        detail = ", ".join(f"{key}={h!r} (needs {w!r})" for key, (h, w) in differing.items())
        raise ValueError(f"head {name!r} cannot become {derived.class_name}: {detail}")


__all__ = ["from_static", "head_config", "lm_head_options", "to_static", "transformers_class"]


def unplaced_weights_message(derived: DerivedHead, left: list[str]) -> str:
    """Why a static class cannot become an adapter model: weights with no place in it, said by where they sit."""
    prefix = derived.base_prefix + "." if derived.base_prefix else ""
    in_base = [key for key in left if prefix and key.startswith(prefix)]
    in_head = [key for key in left if key not in in_base]
    parts = []
    if in_head:
        parts.append(
            f"{', '.join(in_head[:5])} sit outside the base model and outside the head's layers "
            f"({', '.join(sorted(derived.slots.values()))}): the flexible {derived.head_type} head has no part that "
            "holds them (no spec field can map them)"
        )
    if in_base:
        parts.append(f"{', '.join(in_base[:5])} have no counterpart in the adapter model's base model")
    return (
        f"{derived.class_name} cannot be converted: {'; '.join(parts)}. Declare the class a gap in the spec's "
        f"HeadMap (gaps={{{derived.class_name!r}: 'its <weight> has no place in a flexible head'}}) until the "
        "implementation's heads have such a part"
    )
