"""Adapter configs: frozen dataclasses with string names, cross-field checks and a JSON round trip.

Each method family has its own module; importing this package registers every config name.
"""

from .base import CONFIG_CLASSES, AdapterConfig, register_config, resolve_config
from .bottleneck import BnConfig, DoubleSeqBnConfig, ParBnConfig, SeqBnConfig
from .lora import LoRAConfig


__all__ = [
    "CONFIG_CLASSES",
    "AdapterConfig",
    "BnConfig",
    "DoubleSeqBnConfig",
    "LoRAConfig",
    "ParBnConfig",
    "SeqBnConfig",
    "register_config",
    "resolve_config",
]
