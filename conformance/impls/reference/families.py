"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import lora, prefix, prompt  # noqa: F401
