"""The architecture spec: where a model keeps the parts that adapters attach to. Data, validated on registration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .features import FEATURE_NAMES, METHOD_NAMES, MODALITIES
from .modality import Modality, by_name, config_value


if TYPE_CHECKING:
    from .heads import HeadMap


QkvLayout = Literal["blocked", "per_head"]
QkvSizes = Literal["equal", "by_heads"]
# the capabilities read off transformers that a spec may declare undelivered (ArchitectureSpec.unsupported)
UNSUPPORTABLE = ("supports_gradient_checkpointing", "supports_sdpa")
NormPosition = Literal["pre", "post", "branch"]


@dataclass(frozen=True)
class AttentionSpec:
    """One attention block. Every path is relative to the layer that holds it.

    Give either ``q``, ``k`` and ``v`` or a fused ``qkv`` projection. A fused projection is ``blocked`` when its output
    is ``[q; k; v]`` (GPT-2) and ``per_head`` when it is ``[q_h, k_h, v_h]`` for each head in turn (DeBERTa).
    ``qkv_sizes`` says how its output divides: ``equal`` thirds, or ``by_heads``: q has the config's
    ``num_attention_heads`` heads, k and v its ``num_key_value_heads`` each, all of one head size (multi-query
    attention: StarCoder's ``c_attn`` is ``[q; k; v]`` with one key/value head). Only a blocked layout has unequal
    blocks here; the grouped layouts that interleave them (Falcon-40B's) are not stated yet.
    """

    module: str
    output: str
    q: str | None = None
    k: str | None = None
    v: str | None = None
    qkv: str | None = None
    qkv_layout: QkvLayout = "blocked"
    qkv_sizes: QkvSizes = "equal"

    def __post_init__(self) -> None:
        separate = (self.q, self.k, self.v)
        if self.qkv is None and None in separate:
            raise ValueError(f"attention {self.module!r}: give all of q, k and v, or a fused qkv; got {separate}")
        if self.qkv is not None and any(p is not None for p in separate):
            raise ValueError(f"attention {self.module!r}: give either q/k/v or a fused qkv ({self.qkv!r}), not both")
        if self.qkv_layout not in ("blocked", "per_head"):
            raise ValueError(
                f"attention {self.module!r}: qkv_layout must be 'blocked' or 'per_head', not {self.qkv_layout!r}"
            )
        if self.qkv_sizes not in ("equal", "by_heads"):
            raise ValueError(
                f"attention {self.module!r}: qkv_sizes must be 'equal' or 'by_heads', not {self.qkv_sizes!r}"
            )
        if self.qkv_sizes == "by_heads" and (self.qkv is None or self.qkv_layout != "blocked"):
            raise ValueError(f"attention {self.module!r}: qkv_sizes='by_heads' is for a fused, blocked qkv projection")

    @property
    def fused(self) -> bool:
        return self.qkv is not None

    def paths(self) -> dict[str, str]:
        found = {"module": self.module, "output": self.output}
        for name in ("q", "k", "v", "qkv"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        return found


@dataclass(frozen=True)
class LayerStackSpec:
    """A stack of identical transformer layers (the encoder, the decoder, or the only stack).

    ``path`` is the layer list relative to the base model; every other path is relative to one layer.
    ``ffn_in`` receives the FFN input, ``ffn_out`` produces the FFN output before the residual is added.
    ``norm_position`` says whether layer norms come before (pre) or after (post) each residual branch, or end it
    (branch: x + norm(f(x)), OLMo 2), where ``attention_norm`` / ``ffn_norm`` are the norms on the branch outputs.
    """

    name: str
    path: str
    self_attention: AttentionSpec
    ffn_in: str
    ffn_out: str
    attention_norm: str
    ffn_norm: str
    norm_position: NormPosition
    cross_attention: AttentionSpec | None = None
    causal: bool = False

    def __post_init__(self) -> None:
        if self.norm_position not in ("pre", "post", "branch"):
            raise ValueError(
                f"layer stack {self.name!r}: norm_position must be 'pre', 'post' or 'branch', "
                f"not {self.norm_position!r}"
            )

    def layer_paths(self) -> dict[str, str]:
        """Every path inside one layer, keyed by a field name a user can find in the spec."""
        found = {"ffn_in": self.ffn_in, "ffn_out": self.ffn_out}
        found["attention_norm"] = self.attention_norm
        found["ffn_norm"] = self.ffn_norm
        for prefix, attention in (("self_attention", self.self_attention), ("cross_attention", self.cross_attention)):
            if attention is not None:
                found.update({f"{prefix}.{k}": v for k, v in attention.paths().items()})
        return found


@dataclass(frozen=True)
class ModuleLayout:
    """Where the parts are, for one module layout of the architecture (transformers has changed layouts over time).

    ``config`` lists config values the layout holds for only (``(("multi_query", True),)``: the fused q/k/v of
    GPTBigCode is blocked with multi-query attention and per head without); a model whose config differs does not
    match the layout, as one that lacks its paths.
    """

    name: str
    embeddings: str
    stacks: tuple[LayerStackSpec, ...]
    config: tuple[tuple[str, Any], ...] = ()  # (name, value) pairs: a layout stays hashable

    def __post_init__(self) -> None:
        names = [s.name for s in self.stacks]
        if not names:
            raise ValueError(f"layout {self.name!r}: needs at least one layer stack")
        if len(set(names)) != len(names):
            raise ValueError(f"layout {self.name!r}: layer stack names must be unique, got {names}")

    @property
    def embedding_module(self) -> str | None:
        """The module that holds ``embeddings`` when it is one of its own before the layers (BERT's ``embeddings``:
        token, position and type embeddings, layer norm, dropout), whose output the first layer takes; None where the
        token embeddings sit in a module that holds layers too (GPT-2's ``wte`` in the base model, OPT's decoder)."""
        if "." not in self.embeddings:
            return None
        parent = self.embeddings.rsplit(".", 1)[0]
        if any(s.path == parent or s.path.startswith(parent + ".") for s in self.stacks):
            return None
        return parent


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: the registry keeps one per name
class ArchitectureSpec:
    """Everything the suite needs to know about one architecture. The only place its capabilities are declared.

    ``gaps`` maps a feature name to the reason it cannot work by design; everything not declared is expected to pass.
    ``tolerances`` maps a check name to an absolute tolerance other than the default, each with a reason.
    ``layouts`` lists the module layouts of the transformers versions the package supports, newest first; the first
    one whose paths all exist on the live model is used.
    ``modality`` is a ``Modality`` or its name (``"text_encoder"``); it says what the model takes and generates.
    ``config_aliases`` maps a BERT-style config name (``hidden_size``) to this config's attribute, only where
    transformers' ``attribute_map`` and the nested configs do not already answer it.
    ``min_transformers``: the first transformers release that has the architecture; on older ones the whole
    architecture is *not applicable* (recorded as such, never a failure).
    ``unsupported`` maps a capability transformers claims for the family (``supports_gradient_checkpointing``) to why
    the installed version does not deliver it; the checks that need it are then not applicable, with that reason.
    """

    name: str
    modality: Modality | str
    make_config: Callable[[], Any]
    base_class: str
    head_classes: tuple[str, ...]
    layouts: tuple[ModuleLayout, ...]
    gaps: Mapping[str, str] = field(default_factory=dict)
    tolerances: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    heads: HeadMap | None = None  # how each static head class maps to a flexible head (architectures.heads)
    config_aliases: Mapping[str, str] = field(default_factory=dict)
    model_type: str | None = None  # transformers' model_type where it is no identifier ("xlm-roberta")
    min_transformers: str | None = None
    unsupported: Mapping[str, str] = field(default_factory=dict)
    module: str = ""  # where the spec was defined; set by register()

    def __post_init__(self) -> None:
        if self.modality in MODALITIES:  # an unknown name is reported by check_names, with the module
            object.__setattr__(self, "modality", by_name(self.modality))
        object.__setattr__(self, "config_aliases", MappingProxyType(dict(self.config_aliases)))
        object.__setattr__(self, "gaps", MappingProxyType(dict(self.gaps)))
        object.__setattr__(self, "tolerances", MappingProxyType(dict(self.tolerances)))
        object.__setattr__(self, "unsupported", MappingProxyType(dict(self.unsupported)))
        object.__setattr__(self, "head_classes", tuple(self.head_classes))
        object.__setattr__(self, "layouts", tuple(self.layouts))

    def __deepcopy__(self, memo: dict) -> ArchitectureSpec:
        return self  # frozen, and the registry keeps one per name: a copied model shares its spec

    @property
    def transformers_model_type(self) -> str:
        """The model_type transformers files the family under (its auto mappings are keyed by it)."""
        return self.model_type or self.name

    @property
    def is_encoder_decoder(self) -> bool:
        return self.modality.encoder_decoder

    @property
    def has_attention_mask(self) -> bool:
        """Text models take an attention mask (padding); vision models attend to every patch."""
        return self.modality.attention_mask

    @property
    def shrinks_to_one_token(self) -> bool:
        """Every layer stack can be fed a single position: token inputs alone (image patches and audio frames do
        not shrink to one, nor do CLIP's vision tower's beside its text)."""
        return self.modality.token_inputs and not self.modality.extra_inputs

    @property
    def has_token_inputs(self) -> bool:
        return self.modality.token_inputs

    @property
    def has_embedding_module(self) -> bool:
        """Every layout embeds the inputs in a module of its own before the layers (``ModuleLayout.embedding_module``)."""
        return all(layout.embedding_module is not None for layout in self.layouts)

    @property
    def has_lm_head(self) -> bool:
        return self.modality.generation is not None

    @property
    def has_flexible_heads(self) -> bool:
        """Whether the family has an adapter model with flexible heads: not where ``heads`` is a declared gap."""
        return not self.gap_reason("heads")

    @property
    def applicable(self) -> bool:
        """False when the installed transformers is older than ``min_transformers``."""
        from .versions import transformers_at_least

        return self.min_transformers is None or transformers_at_least(self.min_transformers)

    def not_applicable_reason(self) -> str | None:
        if self.applicable:
            return None
        from .versions import installed

        return (
            f"not applicable on transformers {installed('transformers')}: {self.name} is in transformers "
            f">= {self.min_transformers}"
        )

    def config_value(self, config: Any, name: str, default: Any = ...) -> Any:
        """``config.<name>`` through transformers' attribute_map, this spec's aliases and nested configs."""
        return config_value(config, name, self.config_aliases, default)

    @property
    def supports_gradient_checkpointing(self) -> bool:
        """Whether transformers can checkpoint the base class: read off transformers, unless ``unsupported`` says
        the installed version claims it and does not."""
        from .live import model_class

        if "supports_gradient_checkpointing" in self.unsupported:
            return False
        return bool(getattr(model_class(self), "supports_gradient_checkpointing", False))

    @property
    def supports_sdpa(self) -> bool:
        """Whether transformers has an sdpa attention for the base class besides eager: read off transformers."""
        from .live import model_class

        if "supports_sdpa" in self.unsupported:
            return False
        return bool(getattr(model_class(self), "_supports_sdpa", False))

    def gap_reason(self, feature: str, method: str | None = None) -> str | None:
        """The declared reason why ``feature`` (or the single ``method``) cannot work here, or None."""
        return self.gaps.get(feature) or (self.gaps.get(method) if method else None)


def prefix_tuning_gaps(reason: str) -> dict[str, str]:
    """Gaps of prefix tuning and of the unions that include it (MAM, UniPELT), for one reason."""
    return {
        "prefix_tuning": reason,
        "mam": "MAM includes prefix tuning: " + reason,
        "unipelt": "UniPELT includes prefix tuning: " + reason,
    }


def check_names(spec: ArchitectureSpec) -> None:
    """Checks that need no model: a sane name, a known modality, known gap and tolerance keys."""
    where = f"in {spec.module or 'the spec'}"
    if not spec.name or not spec.name.replace("_", "").isalnum() or spec.name != spec.name.lower():
        raise ValueError(f"ArchitectureSpec.name={spec.name!r} {where}: use the lowercase model_type, e.g. 'bert'")
    if spec.modality not in MODALITIES:
        raise ValueError(
            f"ArchitectureSpec.modality={spec.modality!r} {where}: expected one of {', '.join(MODALITIES)}"
        )
    for key in spec.gaps:
        if key not in FEATURE_NAMES and key not in METHOD_NAMES:
            known = ", ".join(FEATURE_NAMES + METHOD_NAMES)
            raise ValueError(f"ArchitectureSpec.gaps has unknown feature {key!r} {where}; known names: {known}")
        if not str(spec.gaps[key]).strip():
            raise ValueError(f"ArchitectureSpec.gaps[{key!r}] {where} needs a reason a user understands")
    for key, value in spec.tolerances.items():
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) and value[1].strip()):
            raise ValueError(
                f"ArchitectureSpec.tolerances[{key!r}]={value!r} {where}: write (atol, 'one-line reason')"
            )
    for key, reason in spec.unsupported.items():
        if key not in UNSUPPORTABLE or not str(reason).strip():
            raise ValueError(
                f"ArchitectureSpec.unsupported[{key!r}] {where}: name one of {', '.join(UNSUPPORTABLE)} with a reason"
            )
    if not spec.layouts:
        raise ValueError(f"ArchitectureSpec.layouts {where}: give at least one module layout")
