"""Config unions: several adapter configs added under one adapter name (ConfigUnion, MAM, UniPELT)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .base import AdapterConfig, check, register_config, resolve_config
from .bottleneck import BnConfig, ParBnConfig, SeqBnConfig
from .lora import LoRAConfig
from .prefix_tuning import PrefixTuningConfig


def _places(config: AdapterConfig) -> set[str]:
    """Where ``config`` puts adapters, in words; two parts of a union may not share one."""
    if isinstance(config, BnConfig):
        return {p for p, on in (("bottleneck adapter after the attention", config.mh_adapter),
                                ("bottleneck adapter at the FFN output", config.output_adapter)) if on}  # fmt: skip
    if config.method == "lora":  # LoRA, IA3 and DoRA share a projection's adapter slot
        places = {f"LoRA-family adapter on the attention's {m}" for m in config.attn_matrices}
        places = places if config.selfattn_lora else set()
        places |= {"LoRA-family adapter on the FFN input"} if config.intermediate_lora else set()
        return places | ({"LoRA-family adapter on the FFN output"} if config.output_lora else set())
    return {f"{config.method} adapter"}


def check_parts(owner: AdapterConfig, parts: tuple[AdapterConfig, ...]) -> None:
    """A union holds plain configs, at least one, and at most one adapter per place."""
    kind = type(owner).__name__
    check(len(parts) > 0, owner, "a union needs at least one config")
    for part in parts:
        if isinstance(part, UnionConfigBase):
            raise TypeError(f"{kind}: a union cannot hold another union ({type(part).__name__}); list its parts")
        if not isinstance(part, AdapterConfig):
            raise TypeError(f"{kind}: parts must be adapter configs, got {type(part).__name__}")
    seen: dict[str, AdapterConfig] = {}
    for part in parts:
        for place in sorted(_places(part)):
            if place in seen:
                raise ValueError(
                    f"{kind}: {type(seen[place]).__name__} and {type(part).__name__} both put a {place}; "
                    "a union holds at most one adapter per place"
                )
            seen[place] = part


@dataclass(frozen=True)
class UnionConfigBase(AdapterConfig):
    """Base of the unions. ``parts`` are the configs added: each with the union's ``leave_out`` added to its own, and
    the union's ``init_weights_seed`` (when set) instead of its own."""

    method: ClassVar[str] = "union"
    gated: ClassVar[bool] = False  # UniPELT: every part's effect is scaled by a gate

    init_weights_seed: int | None = None

    @property
    def components(self) -> tuple[AdapterConfig, ...]:
        raise NotImplementedError

    @property
    def parts(self) -> tuple[AdapterConfig, ...]:
        return tuple(self._part(part) for part in self.components)

    def _part(self, part: AdapterConfig) -> AdapterConfig:
        changes: dict[str, Any] = {}
        if self.leave_out:
            changes["leave_out"] = tuple(sorted(set(part.leave_out) | set(self.leave_out)))
        if self.init_weights_seed is not None and hasattr(part, "init_weights_seed"):
            changes["init_weights_seed"] = self.init_weights_seed
        return part.replace(**changes) if changes else part

    def __post_init__(self) -> None:
        super().__post_init__()
        check_parts(self, self.components)

    @property
    def identity_at_init(self) -> bool:
        return all(part.identity_at_init for part in self.parts)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"config": self.name}
        for f in dataclasses.fields(self):
            data[f.name] = _plain(getattr(self, f.name))
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, AdapterConfig):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _config(value: Any, expected: type, owner: Any, field_name: str) -> AdapterConfig:
    config = resolve_config(value)
    if not isinstance(config, expected):
        raise TypeError(
            f"{type(owner).__name__}.{field_name} must be a {expected.__name__}, got {type(config).__name__}"
        )
    return config


@register_config
@dataclass(frozen=True, init=False)
class ConfigUnion(UnionConfigBase):
    """Any configs that do not share a place: ``ConfigUnion(PrefixTuningConfig(), ParBnConfig())``."""

    name: ClassVar[str] = "union"

    configs: tuple[AdapterConfig, ...] = ()

    def __init__(
        self, *configs: Any, leave_out: Iterable[int] = (), init_weights_seed: int | None = None, **named: Any
    ):
        given = (*configs, *named.pop("configs", ()))
        if named:
            raise TypeError(f"ConfigUnion has no field(s) {sorted(named)}; pass configs, leave_out, init_weights_seed")
        object.__setattr__(self, "configs", tuple(resolve_config(c) for c in given))
        object.__setattr__(self, "leave_out", tuple(leave_out))
        object.__setattr__(self, "init_weights_seed", init_weights_seed)
        self.__post_init__()

    @property
    def components(self) -> tuple[AdapterConfig, ...]:
        return self.configs


@register_config
@dataclass(frozen=True)
class MAMConfig(UnionConfigBase):
    """He et al. (2021), "mix-and-match": prefix tuning plus a parallel bottleneck adapter at the FFN."""

    name: ClassVar[str] = "mam"

    prefix_tuning: PrefixTuningConfig = field(default_factory=lambda: PrefixTuningConfig(bottleneck_size=800))
    adapter: BnConfig = field(default_factory=ParBnConfig)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "prefix_tuning", _config(self.prefix_tuning, PrefixTuningConfig, self, "prefix_tuning")
        )
        object.__setattr__(self, "adapter", _config(self.adapter, BnConfig, self, "adapter"))
        super().__post_init__()

    @property
    def components(self) -> tuple[AdapterConfig, ...]:
        return (self.prefix_tuning, self.adapter)


@register_config
@dataclass(frozen=True)
class UniPELTConfig(UnionConfigBase):
    """Mao et al. (2022): prefix tuning, a sequential bottleneck adapter and LoRA, each scaled by a learned gate.

    The gates of a forward pass are returned with ``model(..., output_adapter_gating_scores=True)``.
    """

    name: ClassVar[str] = "unipelt"
    gated: ClassVar[bool] = True

    prefix_tuning: PrefixTuningConfig = field(default_factory=lambda: PrefixTuningConfig(prefix_length=10))
    adapter: BnConfig = field(default_factory=lambda: SeqBnConfig(reduction_factor=16))
    lora: LoRAConfig = field(default_factory=lambda: LoRAConfig(r=8))

    def __post_init__(self) -> None:
        prefix = _config(self.prefix_tuning, PrefixTuningConfig, self, "prefix_tuning")
        object.__setattr__(self, "prefix_tuning", prefix.replace(use_gating=True))
        object.__setattr__(self, "adapter", _config(self.adapter, BnConfig, self, "adapter"))
        object.__setattr__(self, "lora", _config(self.lora, LoRAConfig, self, "lora"))
        super().__post_init__()

    @property
    def components(self) -> tuple[AdapterConfig, ...]:
        return (self.prefix_tuning, self.adapter, self.lora)
