"""Prefix tuning's machinery: the pools (trained prefixes), the binding of attention modules to them, and the three
routes by which a prefix reaches attention (see ``routes``)."""

from . import routes
from .pool import PrefixPool, PrefixShape, PrefixTuning


__all__ = ["PrefixPool", "PrefixShape", "PrefixTuning", "routes"]
