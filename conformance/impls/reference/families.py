"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import bottleneck, lora, prefix, prompt  # noqa: F401
