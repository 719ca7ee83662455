"""Method families, one module each. Importing this package registers every family."""

from . import bottleneck, compacter, invertible, lora, prefix_tuning, prompt_tuning, reft, union
from .base import FAMILIES, MethodFamily, Placement, SiteAdapter, family_of, register_family


__all__ = [
    "FAMILIES",
    "MethodFamily",
    "Placement",
    "SiteAdapter",
    "bottleneck",
    "compacter",
    "family_of",
    "invertible",
    "lora",
    "prefix_tuning",
    "prompt_tuning",
    "reft",
    "register_family",
    "union",
]
