"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import (
    bottleneck,  # noqa: F401
    lora,  # noqa: F401
)
