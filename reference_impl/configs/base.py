"""The base of every adapter config, the registry of config names, and resolving a config from a name or dict."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


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


@dataclass(frozen=True)
class AdapterConfig:
    """Base of every adapter config. ``name`` is the string users pass instead of the class (``"seq_bn"``)."""

    name: ClassVar[str] = ""
    method: ClassVar[str] = ""  # the family that implements it: "bottleneck", "lora", ...

    leave_out: tuple[int, ...] = ()

    def __post_init__(self) -> None:
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


def resolve_config(config: str | Mapping[str, Any] | AdapterConfig) -> AdapterConfig:
    """An AdapterConfig from a config, its string name (``"lora"``) or its dict form (``{"config": "lora", "r": 4}``)."""
    if isinstance(config, AdapterConfig):
        return config
    if isinstance(config, str):
        if config not in CONFIG_CLASSES:
            raise ValueError(f"unknown adapter config {config!r}; known names: {', '.join(sorted(CONFIG_CLASSES))}")
        return CONFIG_CLASSES[config]()
    if isinstance(config, Mapping):
        data = dict(config)
        name = data.pop("config", None)
        if name not in CONFIG_CLASSES:
            raise ValueError(
                f"adapter config dict needs 'config' set to one of {', '.join(sorted(CONFIG_CLASSES))}, got {name!r}"
            )
        cls = CONFIG_CLASSES[name]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; fields: {sorted(known)}")
        return cls(**data)
    raise TypeError(f"expected an AdapterConfig, a config name or a dict, got {type(config).__name__}")
