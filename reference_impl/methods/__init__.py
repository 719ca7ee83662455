"""Method families, one module each. Importing this package registers every family."""

from . import bottleneck, lora
from .base import FAMILIES, MethodFamily, Placement, SiteAdapter, family_of, register_family


__all__ = [
    "FAMILIES",
    "MethodFamily",
    "Placement",
    "SiteAdapter",
    "bottleneck",
    "family_of",
    "lora",
    "register_family",
]
