"""Prediction heads in the spec: which flexible head types an architecture offers, and how each static transformers
head class (``BertForSequenceClassification``, ``GPT2LMHeadModel``, ...) maps to a flexible head.

Every static head class of a family is either mapped (a ``StaticHead``) or a declared gap with a reason
(``HeadMap.gaps``). What the module structure tells is derived from a live model (``derive``): which submodules
form the head and in which order, their sizes, the output bias, the layer norm and the weight tying. What it does not
tell is stated in the spec: the head type, the activation between the head's layers, the pooling and the pooler.

A flexible head is a stack of layers, named by *slots*: ``hidden.<i>`` (a hidden ``Linear``, then the activation),
``norm.<i>`` (an optional ``LayerNorm`` after hidden layer i) and ``output`` (the last ``Linear``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .live import base_model
from .modality import MODALITY_LIST
from .spec import ArchitectureSpec


if TYPE_CHECKING:
    from torch import nn


HEAD_TYPES: tuple[str, ...] = (
    "classification",
    "multilabel_classification",
    "tagging",
    "multiple_choice",
    "question_answering",
    "masked_lm",
    "causal_lm",
    "seq2seq_lm",
    "image_classification",
)
# Heads that predict one thing per sequence (they pool), and heads whose outputs carry label names.
SEQUENCE_HEADS = frozenset({"classification", "multilabel_classification", "multiple_choice", "image_classification"})
LABELLED_HEADS = frozenset({"classification", "multilabel_classification", "tagging", "image_classification"})
LM_HEADS = frozenset({"masked_lm", "causal_lm", "seq2seq_lm"})

# How a sequence head picks the one position it reads: the first token (BERT's [CLS], ViT's class token), the last
# non-padding token (decoders) or the last end-of-sequence token (encoder-decoders read the decoder there).
POOLINGS: tuple[str, ...] = ("first", "last", "eos")
# Each modality's default pooling and flexible head types (architectures.modality); a spec adds the types of its
# mapped classes (a text encoder with a causal-LM class, such as BERT, gets ``causal_lm``) or lists its own in
# ``HeadMap.head_types``.
DEFAULT_POOLING = {m.name: m.pooling for m in MODALITY_LIST}
DEFAULT_HEAD_TYPES: dict[str, tuple[str, ...]] = {m.name: m.head_types for m in MODALITY_LIST}

# transformers' auto mappings, read to cross-check the head type a spec states for a class.
AUTO_MAPPING_HEAD_TYPES: dict[str, frozenset[str]] = {
    "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES": frozenset({"classification", "multilabel_classification"}),
    "MODEL_FOR_NEXT_SENTENCE_PREDICTION_MAPPING_NAMES": frozenset({"classification"}),
    "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES": frozenset({"tagging"}),
    "MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES": frozenset({"multiple_choice"}),
    "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES": frozenset({"question_answering"}),
    "MODEL_FOR_MASKED_LM_MAPPING_NAMES": frozenset({"masked_lm"}),
    "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES": frozenset({"causal_lm"}),
    "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES": frozenset({"seq2seq_lm"}),
    "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES": frozenset({"image_classification"}),
}

CONFIG_PREFIX = "config:"  # an activation "config:hidden_act" is read off the model config
# What to do when the head's structure cannot be derived from the live model.
LAYERS_HINT = (
    "state the head's layers in the spec: StaticHead({class_name!r}, ..., layers={{'hidden.0': '<path>', "
    "'norm.0': '<path>', 'output': '<path>'}}) with the submodule paths of the static model (these exist: {paths})"
)


@dataclass(frozen=True)
class StaticHead:
    """How one static head class becomes a flexible head; only what the module structure cannot tell.

    ``activation`` runs after each hidden layer (a transformers ``ACT2FN`` name, or ``"config:<attribute>"``).
    ``pooling`` overrides the modality's default for sequence heads; ``use_pooler`` reads the base model's pooler.
    ``layers`` maps slots to static submodule paths, for heads whose structure cannot be derived.
    ``config`` holds config values the static class expects (``is_decoder=True`` for BERT as a causal LM).
    ``options`` reads further head options off the model config (T5 scales the decoder output before its LM head).
    """

    class_name: str
    head_type: str
    activation: str | None = None
    use_pooler: bool = False
    pooling: str | None = None
    layers: Mapping[str, str] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    options: Callable[[Any], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class HeadMap:
    """The static head classes of a family: each one mapped or a declared gap ``{class name: reason}``."""

    mapped: tuple[StaticHead, ...] = ()
    gaps: Mapping[str, str] = field(default_factory=dict)
    head_types: tuple[str, ...] | None = None
    # where the flexible sequence heads read by default, where the modality's default does not fit the family
    # (CLIP's text tower is causal: its first token sees nothing else, its last one sees the whole input)
    pooling: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapped", tuple(self.mapped))
        object.__setattr__(self, "gaps", MappingProxyType(dict(self.gaps)))

    def entry(self, class_name: str) -> StaticHead | None:
        return next((m for m in self.mapped if m.class_name == class_name), None)


def check_head_map(spec: ArchitectureSpec) -> None:
    """Checks that need no model: known head types, poolings and slots, reasons for gaps, no class twice."""
    heads: HeadMap | None = spec.heads
    if heads is None:
        return
    where = f"in {spec.module or 'the spec'}"
    if not isinstance(heads, HeadMap):
        raise ValueError(f"ArchitectureSpec.heads={heads!r} {where}: give a HeadMap(mapped=..., gaps=...)")
    names = [m.class_name for m in heads.mapped] + list(heads.gaps)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"HeadMap {where}: {', '.join(twice)} mapped or declared a gap more than once")
    for entry in heads.mapped:
        field_name = f"StaticHead({entry.class_name!r}).head_type"
        if entry.head_type not in HEAD_TYPES:
            raise ValueError(f"{field_name}={entry.head_type!r} {where}: expected one of {', '.join(HEAD_TYPES)}")
        if entry.pooling is not None and entry.pooling not in POOLINGS:
            raise ValueError(
                f"StaticHead({entry.class_name!r}).pooling={entry.pooling!r} {where}: "
                f"expected one of {', '.join(POOLINGS)}"
            )
        for slot in entry.layers or {}:
            if not _valid_slot(slot):
                raise ValueError(
                    f"StaticHead({entry.class_name!r}).layers has slot {slot!r} {where}: "
                    "slots are 'hidden.<i>', 'norm.<i>' and 'output'"
                )
        if entry.layers is not None and "output" not in entry.layers:
            raise ValueError(f"StaticHead({entry.class_name!r}).layers {where} needs an 'output' slot")
    if heads.pooling is not None and heads.pooling not in POOLINGS:
        raise ValueError(f"HeadMap.pooling={heads.pooling!r} {where}: expected one of {', '.join(POOLINGS)}")
    for name, reason in heads.gaps.items():
        if not str(reason).strip():
            raise ValueError(f"HeadMap.gaps[{name!r}] {where} needs a reason a user understands")
    for head_type in heads.head_types or ():
        if head_type not in HEAD_TYPES:
            raise ValueError(
                f"HeadMap.head_types has {head_type!r} {where}: expected names from {', '.join(HEAD_TYPES)}"
            )


def _valid_slot(slot: str) -> bool:
    kind, _, index = slot.partition(".")
    return slot == "output" or (kind in ("hidden", "norm") and index.isdigit())


def head_types(spec: ArchitectureSpec) -> tuple[str, ...]:
    """The flexible head types the adapter model offers for ``spec``, in ``HEAD_TYPES`` order."""
    heads: HeadMap | None = spec.heads
    if heads is not None and heads.head_types is not None:
        offered = set(heads.head_types)
    else:
        offered = set(spec.modality.head_types)
        offered |= {m.head_type for m in (heads.mapped if heads else ())}
    return tuple(t for t in HEAD_TYPES if t in offered)


def default_pooling(spec: ArchitectureSpec) -> str:
    """The pooling of the family's flexible sequence heads: its head map's, else its modality's."""
    heads: HeadMap | None = spec.heads
    return (heads.pooling if heads is not None else None) or spec.modality.pooling


# ----- the static head classes transformers has for a family -----


def static_classes(spec: ArchitectureSpec) -> tuple[str, ...]:
    """Every model class of the family in the installed transformers except the base class, sorted.

    Read off the family's modeling module (its ``__all__``) and transformers' auto mappings for the model type, so
    that a head class added in a new transformers version shows up here without any change to the spec.
    """
    import transformers
    from transformers import PreTrainedModel

    from .live import model_class

    base = model_class(spec)
    module = importlib.import_module(base.__module__)
    names = set(getattr(module, "__all__", ()))
    names |= set(_auto_mapping_classes(spec.transformers_model_type))
    found = set()
    for name in names:
        cls = getattr(module, name, None) or getattr(transformers, name, None)
        if not isinstance(cls, type) or not issubclass(cls, PreTrainedModel):
            continue
        if cls is base or is_pretrained_base_name(name) or issubclass(base, cls):
            continue
        found.add(name)
    return tuple(sorted(found))


def is_pretrained_base_name(name: str) -> bool:
    """The family's abstract base class and its deprecated aliases (``BartPreTrainedModel``, ``BartPretrainedModel``,
    ``PretrainedBartModel``): not head classes, whatever their case."""
    lowered = name.lower()
    return lowered.endswith("pretrainedmodel") or (lowered.startswith("pretrained") and lowered.endswith("model"))


def _auto_mapping_classes(model_type: str, mappings: tuple[str, ...] | None = None) -> list[str]:
    from transformers.models.auto import modeling_auto

    found = []
    for attr in mappings or dir(modeling_auto):
        if not (attr.startswith("MODEL_") and attr.endswith("_MAPPING_NAMES")):
            continue
        value = getattr(modeling_auto, attr, {}).get(model_type)
        found += [value] if isinstance(value, str) else list(value or ())
    return found


def transformers_head_types(spec: ArchitectureSpec, class_name: str) -> frozenset[str] | None:
    """The head types transformers' auto mappings allow for ``class_name``; None where no mapping names it."""
    allowed: set[str] = set()
    for mapping, types in AUTO_MAPPING_HEAD_TYPES.items():
        if class_name in _auto_mapping_classes(spec.transformers_model_type, (mapping,)):
            allowed |= types
    return frozenset(allowed) or None


@dataclass(frozen=True)
class Coverage:
    """How the spec's head map compares with the installed transformers."""

    unmapped: tuple[str, ...]  # classes transformers has that are neither mapped nor a declared gap
    stale: tuple[str, ...]  # classes the spec names that the installed transformers does not have


def coverage(spec: ArchitectureSpec) -> Coverage:
    present = set(static_classes(spec))
    heads: HeadMap | None = spec.heads
    named = {m.class_name for m in heads.mapped} | set(heads.gaps) if heads else set()
    return Coverage(tuple(sorted(present - named)), tuple(sorted(named - present)))


def classes_under_test(spec: ArchitectureSpec) -> tuple[str, ...]:
    """The static classes a conversion check runs for: what transformers has and what the spec names."""
    heads: HeadMap | None = spec.heads
    named = {m.class_name for m in heads.mapped} | set(heads.gaps) if heads else set()
    return tuple(sorted(set(static_classes(spec)) | named))


def gap_reason(spec: ArchitectureSpec, class_name: str) -> str | None:
    heads: HeadMap | None = spec.heads
    return heads.gaps.get(class_name) if heads else None


def unmapped_message(spec: ArchitectureSpec, class_name: str) -> str:
    return (
        f"{class_name} is a head class of {spec.name!r} in the installed transformers but {spec.module or spec.name} "
        f"neither maps it (StaticHead({class_name!r}, head_type=...)) nor declares it a gap "
        f"(HeadMap.gaps={{{class_name!r}: 'reason'}})"
    )


# ----- deriving the mapping from a live static model -----


@dataclass(frozen=True)
class DerivedHead:
    """A static head class as a flexible head: its options and where each slot's weights are in the static model.

    ``options`` uses the names of the flexible head's config: ``head_type``, ``layers``, ``activation``,
    ``layer_norm``, ``norm_eps``, ``bias``, ``hidden_bias``, ``norm_bias``, ``use_pooler``, ``pooling``, ``tie_output``,
    ``scale_hidden``, ``num_outputs``. ``base_prefix`` is where the base model sits in the static model ("" when it is the model).
    """

    class_name: str
    head_type: str
    base_prefix: str
    slots: Mapping[str, str]
    options: Mapping[str, Any]


def static_entry(spec: ArchitectureSpec, class_name: str) -> StaticHead:
    """The spec's mapping of ``class_name``; ValueError saying what to do when there is none."""
    heads: HeadMap | None = spec.heads
    reason = gap_reason(spec, class_name)
    if reason:
        raise ValueError(f"{class_name} has no flexible head: {reason}")
    entry = heads.entry(class_name) if heads else None
    if entry is None:
        raise ValueError(unmapped_message(spec, class_name))
    return entry


def transformers_class(model: Any) -> type:
    """The transformers class of ``model``, also when an adapter library swapped in a subclass of its own."""
    for cls in type(model).__mro__:
        if cls.__module__.startswith("transformers."):
            return cls
    raise ValueError(f"{type(model).__name__} is not a transformers model class")


def derive(spec: ArchitectureSpec, static: nn.Module) -> DerivedHead:
    """The flexible head equivalent to the head of the live static model ``static``, or ValueError saying why not."""
    class_name = transformers_class(static).__name__
    entry = static_entry(spec, class_name)
    prefix = _base_prefix(static)
    in_base = _base_children(spec, static.config) if not prefix else frozenset()
    head_modules = [
        (path, module)
        for path, module in static.named_modules(remove_duplicate=False)
        if path and not _is_base(path, prefix, in_base) and any(True for _ in module.parameters(recurse=False))
    ]
    where = f"{class_name} ({spec.module or spec.name})"
    if entry.layers is not None:
        slots = dict(entry.layers)
        modules = dict(static.named_modules(remove_duplicate=False))
        for slot, path in slots.items():
            if path not in modules:
                raise ValueError(f"StaticHead({class_name!r}).layers[{slot!r}]={path!r}: no such submodule in {where}")
    else:
        slots = _derive_slots(head_modules, where, class_name)
    return DerivedHead(
        class_name, entry.head_type, prefix, MappingProxyType(slots), _options(spec, entry, static, slots)
    )


def _base_prefix(static: nn.Module) -> str:
    base = base_model(static)
    if base is static:
        return ""
    return next(path for path, module in static.named_modules() if module is base)


def _is_base(path: str, prefix: str, base_children: frozenset[str]) -> bool:
    if prefix:
        return path == prefix or path.startswith(prefix + ".")
    return path.split(".")[0] in base_children  # the model is its own base: its base part are the base's children


def _base_children(spec: ArchitectureSpec, config: Any) -> frozenset[str]:
    """The names of the base class's top-level submodules, built on the meta device (no memory, no init cost)."""
    import copy

    import torch

    from .live import model_class

    with torch.device("meta"):
        base = model_class(spec)(copy.deepcopy(config))
    return frozenset(name for name, _ in base.named_children())


def _kind(module: nn.Module) -> str:
    from torch import nn

    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.LayerNorm):
        return "norm"
    return type(module).__name__


def _derive_slots(head_modules: list[tuple[str, nn.Module]], where: str, class_name: str) -> dict[str, str]:
    """Slots from the order of the head's Linear and LayerNorm modules: (Linear [LayerNorm])* Linear."""
    layers = [(path, module) for path, module in head_modules if _kind(module) in ("linear", "norm")]
    known = {id(p) for _, module in layers for p in module.parameters(recurse=False)}
    described = ", ".join(f"{path} ({type(module).__name__})" for path, module in head_modules) or "none"
    hint = LAYERS_HINT.format(class_name=class_name, paths=described)

    def cannot(why: str) -> ValueError:
        return ValueError(f"cannot derive the head of {where}: {why}; {hint}")

    for path, module in head_modules:
        own = list(module.parameters(recurse=False))
        if _kind(module) not in ("linear", "norm") and not all(id(p) in known for p in own):
            raise cannot(f"{path} ({type(module).__name__}) holds weights of its own")
    kinds = [_kind(module) for _, module in layers]
    if not kinds or kinds[-1] != "linear":
        raise cannot(f"it does not end in a Linear layer ({kinds or 'none'})")
    slots: dict[str, str] = {}
    hidden = -1
    for (path, _), kind in zip(layers[:-1], kinds[:-1], strict=True):
        if kind == "linear":
            hidden += 1
            slots[f"hidden.{hidden}"] = path
        elif hidden < 0 or f"norm.{hidden}" in slots:
            raise cannot(f"a LayerNorm without a Linear before it at {path}")
        else:
            slots[f"norm.{hidden}"] = path
    slots["output"] = layers[-1][0]
    norms = [s for s in slots if s.startswith("norm.")]
    if norms and len(norms) != hidden + 1:
        raise cannot("some hidden layers have a LayerNorm, others not")
    return slots


def _options(spec: ArchitectureSpec, entry: StaticHead, static: nn.Module, slots: Mapping[str, str]) -> dict[str, Any]:
    from .live import get_path

    config = static.config
    output = get_path(static, slots["output"])
    hidden = sorted(s for s in slots if s.startswith("hidden."))
    norms = [get_path(static, slots[s]) for s in sorted(s for s in slots if s.startswith("norm."))]
    try:
        embeddings = static.get_input_embeddings()
    except (AttributeError, NotImplementedError):  # a model without token embeddings (vision) ties nothing
        embeddings = None
    activation = entry.activation
    if activation and activation.startswith(CONFIG_PREFIX):
        activation = getattr(config, activation.removeprefix(CONFIG_PREFIX))
    if hidden and not activation:
        raise ValueError(
            f"StaticHead({entry.class_name!r}) in {spec.module or spec.name}: the head has {len(hidden) + 1} layers; "
            "state the activation between them"
        )
    sequence = entry.head_type in SEQUENCE_HEADS
    options = {
        "head_type": entry.head_type,
        "layers": len(hidden) + 1,
        "activation": activation if hidden else None,
        "layer_norm": bool(norms),
        "norm_eps": float(norms[0].eps) if norms else None,
        "bias": getattr(output, "bias", None) is not None,
        # no hidden layer or norm: True, the flexible head's default (nothing to carry either way)
        "hidden_bias": all(getattr(get_path(static, slots[s]), "bias", None) is not None for s in hidden),
        "norm_bias": all(getattr(norm, "bias", None) is not None for norm in norms),
        "use_pooler": entry.use_pooler,
        "pooling": (entry.pooling or default_pooling(spec)) if sequence and not entry.use_pooler else None,
        "tie_output": embeddings is not None and output.weight is getattr(embeddings, "weight", None),
        "scale_hidden": False,
        "num_outputs": int(output.out_features),
    }
    if entry.options is not None:
        options.update(entry.options(config))
    return options
