"""The registry of architecture specs. ``register`` validates a spec against a live tiny model before accepting it."""

from __future__ import annotations

import importlib
import pkgutil

from .heads import check_head_map
from .spec import ArchitectureSpec, check_names


# Modules of this package that hold machinery rather than an architecture spec.
_MACHINERY = frozenset(
    {"coverage", "features", "heads", "live", "modality", "registry", "scaffold", "spec", "versions"}
)

_REGISTRY: dict[str, ArchitectureSpec] = {}


def register(spec: ArchitectureSpec, *, module: str | None = None) -> ArchitectureSpec:
    """Validate ``spec`` and add it to the registry; returns the registered spec.

    Raises ValueError naming the field, the value and the module the spec came from when the name is taken, a name is
    unknown, or a path does not exist on a live tiny model built from the spec's config.
    """
    from dataclasses import replace

    from .live import build_model, model_class, resolve_layout

    if module is not None and spec.module != module:
        spec = replace(spec, module=module)
    check_names(spec)
    check_head_map(spec)
    if spec.name in _REGISTRY and _REGISTRY[spec.name].module != spec.module:
        other = _REGISTRY[spec.name].module
        raise ValueError(f"ArchitectureSpec.name={spec.name!r} in {spec.module} is already registered by {other}")
    if spec.applicable:  # an architecture newer than the installed transformers has nothing to check against
        for class_name in spec.head_classes:
            model_class(spec, class_name)
        resolve_layout(spec, build_model(spec))
    _REGISTRY[spec.name] = spec
    return spec


def builtin_modules() -> list[str]:
    package = importlib.import_module(__package__)
    return sorted(
        f"{__package__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if info.name not in _MACHINERY and not info.name.startswith("_")
    )


def builtin_names() -> list[str]:
    """The architectures shipped in this package; each module is named after the model_type it registers."""
    return [module.rsplit(".", 1)[1] for module in builtin_modules()]


def load_builtin_module(name: str) -> ArchitectureSpec:
    """Import the shipped spec module of one architecture and return its spec."""
    importlib.import_module(f"{__package__}.{name}")
    if name not in _REGISTRY:
        raise ValueError(f"{__package__}.{name} did not register an architecture named {name!r}")
    return _REGISTRY[name]


def load_builtin() -> dict[str, ArchitectureSpec]:
    """Import every spec module shipped in this package (each registers itself); returns the registry."""
    for name in builtin_modules():
        importlib.import_module(name)
    return dict(_REGISTRY)


def load_module(path: str) -> list[ArchitectureSpec]:
    """Import an out-of-tree spec module (``mypkg.my_arch``) and return the specs it registered."""
    before = set(_REGISTRY)
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as err:
        raise ValueError(f"cannot import architecture module {path!r}: {err}") from None
    added = [spec for name, spec in _REGISTRY.items() if name not in before or spec.module == module.__name__]
    if not added:
        raise ValueError(f"module {path!r} registered no architecture; call architectures.register(SPEC) in it")
    return added


def get(name: str) -> ArchitectureSpec:
    """The spec registered as ``name``; a transformers model_type with dashes ("xlm-roberta") finds its spec too."""
    if isinstance(name, str) and name not in _REGISTRY and name.replace("-", "_") in builtin_names():
        name = name.replace("-", "_")
    if name not in _REGISTRY and name in builtin_names():
        load_builtin_module(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(set(_REGISTRY) | set(builtin_names())))
        raise KeyError(f"unknown architecture {name!r}; registered: {known}") from None


def all_specs() -> list[ArchitectureSpec]:
    return [spec for _, spec in sorted(load_builtin().items())]
