"""Architecture specs: one module per transformers model type, each registering a validated, frozen spec.

Importing this package is cheap; torch and transformers are imported when a spec is registered or a model built.
"""

from .features import FEATURE_NAMES, FEATURES, METHOD_FEATURE, METHOD_NAMES
from .heads import HeadMap, StaticHead
from .registry import all_specs, get, load_builtin, load_module, register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout


__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "METHOD_FEATURE",
    "METHOD_NAMES",
    "ArchitectureSpec",
    "AttentionSpec",
    "HeadMap",
    "LayerStackSpec",
    "ModuleLayout",
    "StaticHead",
    "all_specs",
    "get",
    "load_builtin",
    "load_module",
    "register",
]
