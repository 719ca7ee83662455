"""Turning --arch / --method / --feature into architecture specs and methods; a bad name is a UsageError."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Selection:
    specs: tuple[Any, ...]
    methods: tuple[Any, ...]
    explicit_arch: bool  # True when the user named architectures: only conformance checks are collected then
    # Features whose method-less checks (heads, class conversion) are collected: --feature, else the features of
    # an explicit --method list; None: all.
    features: tuple[str, ...] | None = None

    def wants_feature(self, feature: str) -> bool:
        return self.features is None or feature in self.features


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def resolve(arch_values: list[str], method_values: list[str], feature_values: list[str]) -> Selection:
    from architectures import registry
    from architectures.features import FEATURE_NAMES

    from .methods import METHODS

    specs: dict[str, Any] = {}
    names = _split(arch_values)
    builtin = registry.builtin_names()
    for name in names or ["all"]:
        if name == "all":
            specs.update(registry.load_builtin())
        elif name in builtin:  # import just that module: building every spec's model costs seconds per process
            specs[name] = registry.load_builtin_module(name)
        elif "." in name or importlib.util.find_spec(name) is not None:  # an out-of-tree spec module
            try:
                specs.update({spec.name: spec for spec in registry.load_module(name)})
            except ValueError as err:
                raise pytest.UsageError(f"--arch={name}: {err}") from None
        else:
            valid = ", ".join(["all", *builtin])
            raise pytest.UsageError(
                f"--arch={name}: unknown architecture. Valid: {valid}, or a module path such as mypkg.my_arch"
            )

    methods = list(METHODS.values())
    chosen = _split(method_values)
    for name in chosen:
        if name not in METHODS:
            raise pytest.UsageError(f"--method={name}: unknown method. Valid: {', '.join(METHODS)}")
    if chosen:
        methods = [m for m in methods if m.name in chosen]
    features = _split(feature_values)
    for name in features:
        if name not in FEATURE_NAMES:
            raise pytest.UsageError(f"--feature={name}: unknown feature. Valid: {', '.join(FEATURE_NAMES)}")
    if features:
        methods = [m for m in methods if m.feature in features]
    selected = tuple(features) if features else (tuple(sorted({m.feature for m in methods})) if chosen else None)
    return Selection(tuple(spec for _, spec in sorted(specs.items())), tuple(methods), bool(names), selected)
