"""Choosing the implementation under test (``--impl``): a built-in name or a module with an ``IMPLEMENTATION``."""

from __future__ import annotations

import importlib
import importlib.util

from .interface import Implementation


# Built-in implementations: --impl value -> (module, the distribution it needs, how to install it)
BUILTIN: dict[str, tuple[str, str, str]] = {
    "reference": ("conformance.impls.reference", "torch", 'pip install -e ".[test]"'),
    "adapters": (
        "conformance.impls.adapters",
        "adapters",
        'pip install torch==2.13.0 "transformers==4.57.6" "adapters==1.3.0"',
    ),
}


class ImplementationError(ValueError):
    """An --impl value that names no usable implementation; the message says what to do."""


def load(value: str) -> Implementation:
    if value in BUILTIN:
        module_name, package, install = BUILTIN[value]
        if importlib.util.find_spec(package) is None:
            raise ImplementationError(
                f"--impl={value} needs the package {package!r}, which is not installed: {install}"
            )
    elif "." in value or importlib.util.find_spec(value) is not None:
        module_name = value
    else:
        raise ImplementationError(
            f"--impl={value}: unknown implementation. Valid: {', '.join(BUILTIN)}, or a module path such as "
            "mypkg.my_impl whose IMPLEMENTATION is a conformance.interface.Implementation"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImplementationError(f"--impl={value}: cannot import {module_name}: {err}") from None
    except Exception as err:  # the module's own code failed: one line with its place, not a pytest INTERNALERROR
        from architectures.registry import import_error_location

        raise ImplementationError(
            f"--impl={value}: importing {module_name} failed: {type(err).__name__}: {err} "
            f"(at {import_error_location(err)}); fix the module"
        ) from None
    found = getattr(module, "IMPLEMENTATION", None)
    if not isinstance(found, Implementation):
        raise ImplementationError(
            f"--impl={value}: {module_name} has no IMPLEMENTATION that is a conformance.interface.Implementation "
            f"(found {type(found).__name__})"
        )
    return found
