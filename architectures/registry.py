"""The registry of architecture specs. ``register`` validates a spec against a live tiny model before accepting it."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path

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
        import transformers

        # a class declared a gap may be newer than the installed transformers (qwen2's JevForDecision): not listed
        gaps = spec.heads.gaps if spec.heads is not None else {}
        present = tuple(c for c in spec.head_classes if c not in gaps or hasattr(transformers, c))
        if present != spec.head_classes:
            spec = replace(spec, head_classes=present)
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


def is_spec_file(name: str) -> bool:
    """Whether an ``--arch`` value names a spec file (``./my_arch.py``) rather than a module (``mypkg.my_arch``)."""
    return name.endswith(".py") or "/" in name or os.sep in name


def put_cwd_on_path() -> None:
    """Out-of-tree spec modules are looked up from the current folder too, as ``python -m pytest`` would, also when
    pytest runs as ``pytest`` (which does not put the current folder on the path). Appended: it never shadows an
    installed package."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def module_exists(name: str) -> bool:
    put_cwd_on_path()
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        return False


def load_module(path: str) -> list[ArchitectureSpec]:
    """Import an out-of-tree spec module (``mypkg.my_arch``, looked up from the current folder too) or a spec file
    (``./my_arch.py``) and return the specs it registered."""
    before = set(_REGISTRY)
    try:
        module = _import_file(path) if is_spec_file(path) else _import_module(path)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"cannot import architecture module {path!r}: {err}; give a module importable from the current folder "
            "(mypkg.my_arch for mypkg/my_arch.py) or the path of the file (./my_arch.py)"
        ) from None
    added = [spec for name, spec in _REGISTRY.items() if name not in before or spec.module == module.__name__]
    if not added:
        raise ValueError(f"module {path!r} registered no architecture; call architectures.register(SPEC) in it")
    return added


def _import_module(path: str) -> object:
    put_cwd_on_path()
    return importlib.import_module(path)


def _import_file(path: str) -> object:
    """Import ``path`` as a module named after the file; its folder goes on the path so that it can import its
    neighbours."""
    file = Path(path).resolve()
    if file.suffix != ".py" or not file.is_file():
        raise ValueError(f"cannot load architecture file {path!r}: no such Python file (from {os.getcwd()})")
    name = file.stem
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == file:
        return loaded
    if loaded is not None:
        raise ValueError(
            f"cannot load architecture file {path!r}: a module named {name!r} is imported already "
            f"({getattr(loaded, '__file__', 'built in')}); rename the file"
        )
    if str(file.parent) not in sys.path:
        sys.path.append(str(file.parent))
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


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
