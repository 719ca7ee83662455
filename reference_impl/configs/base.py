"""The base of every adapter config, the registry of config names, and resolving a config from a name or dict."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal, Union, get_args, get_origin


CONFIG_CLASSES: dict[str, type[AdapterConfig]] = {}


def register_config(cls: type[AdapterConfig]) -> type[AdapterConfig]:
    """Class decorator: make ``cls`` loadable by its string ``name``."""
    if not cls.name or cls.name in CONFIG_CLASSES:
        raise ValueError(
            f"{cls.__name__}: config name {cls.name!r} is empty or taken by {CONFIG_CLASSES.get(cls.name)}"
        )
    CONFIG_CLASSES[cls.name] = cls
    return cls


def check(condition: bool, config: Any, message: str) -> None:
    if not condition:
        raise ValueError(f"{type(config).__name__}: {message}")


def check_choice(config: Any, field: str, choices: Any) -> None:
    """``config.<field>`` must be one of the values of the Literal type ``choices``."""
    value = getattr(config, field)
    check(value in choices.__args__, config, f"{field} must be one of {choices.__args__}, got {value!r}")


class ConfigTypeError(TypeError, ValueError):
    """A config field of the wrong type: a TypeError, and a ValueError for callers that catch bad configs as such."""


@cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type a field declares (Literal values are checked by ``check_choice``)."""
    origin = get_origin(hint)
    if hint is Any or origin is Literal:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, option) for option in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        inner = get_args(hint)[0]
        return isinstance(value, (list, tuple)) and all(_fits(item, inner) for item in value)
    if isinstance(hint, type) and issubclass(hint, AdapterConfig):
        return isinstance(value, (AdapterConfig, Mapping, str))
    return True


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(option) for option in get_args(hint))
    if origin is Literal:
        return " or ".join(repr(value) for value in get_args(hint))
    if origin is tuple:
        inner = get_args(hint)[0]
        return f"a list of {({int: 'integers', str: 'strings'}).get(inner, _describe(inner))}"
    if hint is type(None):
        return "None"
    if hint is float:
        return "a finite number"
    return {bool: "True or False", int: "an integer", str: "a string"}.get(hint, getattr(hint, "__name__", str(hint)))


def check_types(config: Any) -> None:
    """Every field holds a value of its declared type; a string where a list is expected is refused too."""
    for name, hint in _field_types(type(config)).items():
        value = getattr(config, name)
        if not _fits(value, hint):
            raise ConfigTypeError(f"{type(config).__name__}: {name} must be {_describe(hint)}, got {value!r}")


def closest(name: Any, known: Any) -> str:
    """`` (did you mean 'lora'?)`` when ``name`` is close to one of ``known``, else an empty string."""
    if not isinstance(name, str):
        return ""
    found = difflib.get_close_matches(name.lower(), [str(k) for k in known], n=1, cutoff=0.7)
    return f" (did you mean {found[0]!r}?)" if found else ""


def fields_elsewhere(names: list[str]) -> str:
    """Which configs have the fields ``names``: the dict may be another method's config."""
    owners = {
        name: sorted(config for config, cls in CONFIG_CLASSES.items() if name in _field_types(cls)) for name in names
    }
    hints = [f"{name!r} is a field of {', '.join(where[:4])}" for name, where in owners.items() if where]
    return f"; {'; '.join(hints)}: is this another method's config?" if hints else ""


@dataclass(frozen=True)
class AdapterConfig:
    """Base of every adapter config. ``name`` is the string users pass instead of the class (``"seq_bn"``)."""

    name: ClassVar[str] = ""
    method: ClassVar[str] = ""  # the family that implements it: "bottleneck", "lora", ...

    leave_out: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_types(self)
        object.__setattr__(self, "leave_out", tuple(self.leave_out))
        check(
            all(isinstance(i, int) and i >= 0 for i in self.leave_out),
            self,
            f"leave_out must hold layer indices >= 0, got {self.leave_out}",
        )

    @property
    def identity_at_init(self) -> bool:
        """True when a freshly added adapter of this config leaves the model's outputs unchanged."""
        return False

    def replace(self, **changes: Any) -> AdapterConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = {"config": self.name}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdapterConfig:
        return resolve_config(data)


# AdapterHub's older names of the same configs (its ADAPTER_CONFIG_MAP), accepted as they are there.
ALIASES = {
    "pfeiffer": "seq_bn",
    "houlsby": "double_seq_bn",
    "parallel": "par_bn",
    "pfeiffer+inv": "seq_bn_inv",
    "houlsby+inv": "double_seq_bn_inv",
}


def resolve_config(config: str | Mapping[str, Any] | AdapterConfig) -> AdapterConfig:
    """An AdapterConfig from a config, its string name (``"lora"``) or its dict form (``{"config": "lora", "r": 4}``)."""
    if isinstance(config, AdapterConfig):
        return config
    if isinstance(config, str):
        config = ALIASES.get(config, config)
        if config not in CONFIG_CLASSES:
            raise ValueError(
                f"unknown adapter config {config!r}{closest(config, CONFIG_CLASSES)}; "
                f"known names: {', '.join(sorted(CONFIG_CLASSES))}"
            )
        return CONFIG_CLASSES[config]()
    if isinstance(config, Mapping):
        data = dict(config)
        name = data.pop("config", None)
        name = ALIASES.get(name, name) if isinstance(name, str) else name
        if not isinstance(name, str) or name not in CONFIG_CLASSES:
            raise ValueError(
                f"adapter config dict needs 'config' set to one of {', '.join(sorted(CONFIG_CLASSES))}, "
                f"got {name!r}{closest(name, CONFIG_CLASSES)}"
            )
        cls = CONFIG_CLASSES[name]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known, key=str)
        if unknown:
            suggestions = "".join(closest(key, known) for key in unknown[:1])
            raise ValueError(
                f"{cls.__name__} has no field(s) {unknown}{suggestions}{fields_elsewhere(unknown)}; "
                f"fields: {sorted(known)}"
            )
        return cls(**data)
    raise TypeError(f"expected an AdapterConfig, a config name or a dict, got {type(config).__name__}")
