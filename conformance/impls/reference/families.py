"""Imports every family translation module of the reference implementation (each registers itself)."""

from . import invertible, reft, union  # noqa: F401
