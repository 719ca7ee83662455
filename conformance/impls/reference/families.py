"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import lora  # noqa: F401
