"""Turning --arch / --method / --feature into architecture specs and methods; a bad name is a UsageError.

Method and feature names are matched in any case (``--method=LoRA``). ``--feature`` selects exactly the checks that
count towards the named features: ``--feature=lora,split`` runs the LoRA checks and the Split checks of every method
that takes part in Split, not the other composition blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
    # --feature as given: the checks of a method are collected only where they count towards one of these; None: all.
    explicit_features: tuple[str, ...] | None = None

    def wants_feature(self, feature: str) -> bool:
        """Whether the method-less checks of ``feature`` are collected."""
        return self.features is None or feature in self.features

    def wants_method_check(self, feature: str) -> bool:
        """Whether a check of a selected method that counts towards ``feature`` is collected."""
        return self.explicit_features is None or feature in self.explicit_features


def split_names(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def canonical(option: str, names: list[str], valid: tuple[str, ...] | list[str]) -> list[str]:
    """``names`` as the valid names they match in any case; ValueError naming the first unknown one."""
    by_lower = {name.lower(): name for name in valid}
    found = []
    for name in names:
        if name.lower() not in by_lower:
            raise ValueError(f"{option}={name}: unknown {option.lstrip('-')}. Valid: {', '.join(valid)}")
        found.append(by_lower[name.lower()])
    return list(dict.fromkeys(found))


def check_names(arch_values: list[str], method_values: list[str], feature_values: list[str]) -> None:
    """Everything about a selection that can be checked without importing torch or a spec; ValueError if wrong."""
    from architectures import registry
    from architectures.features import FEATURE_NAMES, METHOD_NAMES

    builtin = registry.builtin_names()
    for name in split_names(arch_values):
        if name == "all" or name.lower() in builtin:
            continue
        if registry.is_spec_file(name):
            if not Path(name).is_file():
                raise ValueError(f"--arch={name}: no such spec file (looked in {Path.cwd()})")
        elif not registry.module_exists(name):
            raise ValueError(
                f"--arch={name}: unknown architecture. Valid: {', '.join(['all', *builtin])}, or a module path such "
                "as mypkg.my_arch, or a spec file such as ./my_arch.py"
            )
    canonical("--method", split_names(method_values), METHOD_NAMES)
    canonical("--feature", split_names(feature_values), FEATURE_NAMES)


def resolve(arch_values: list[str], method_values: list[str], feature_values: list[str]) -> Selection:
    from architectures import registry
    from architectures.features import FEATURE_NAMES, METHOD_FEATURE

    from .methods import METHODS

    specs: dict[str, Any] = {}
    names = split_names(arch_values)
    builtin = registry.builtin_names()
    for name in names or ["all"]:
        try:
            if name == "all":
                specs.update(registry.load_builtin())
            elif name.lower() in builtin:  # import just that module: building every spec's model costs seconds
                specs[name.lower()] = registry.load_builtin_module(name.lower())
            elif registry.is_spec_file(name) or "." in name or registry.module_exists(name):  # an out-of-tree spec
                specs.update({spec.name: spec for spec in registry.load_module(name)})
            else:
                valid = ", ".join(["all", *builtin])
                raise pytest.UsageError(
                    f"--arch={name}: unknown architecture. Valid: {valid}, or a module path such as mypkg.my_arch, or "
                    "a spec file such as ./my_arch.py"
                )
        except ValueError as err:  # a spec the registry refuses (a name taken by another module: also a built-in's)
            raise pytest.UsageError(f"--arch={name}: {err}") from None
    try:
        chosen = canonical("--method", split_names(method_values), list(METHODS))
        features = canonical("--feature", split_names(feature_values), FEATURE_NAMES)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    methods = [m for m in METHODS.values() if not chosen or m.name in chosen]
    if features and not set(features) - set(METHOD_FEATURE.values()):
        # only method features: the methods of those features (a block feature such as split takes every method)
        methods = [m for m in methods if m.feature in features]
    selected = tuple(features) if features else (tuple(sorted({m.feature for m in methods})) if chosen else None)
    return Selection(
        tuple(spec for _, spec in sorted(specs.items())),
        tuple(methods),
        bool(names),
        selected,
        tuple(features) if features else None,
    )
