"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import bottleneck, invertible, lora, prefix, prompt, reft, union  # noqa: F401
