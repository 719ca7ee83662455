"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import invertible, lora, reft, union  # noqa: F401
