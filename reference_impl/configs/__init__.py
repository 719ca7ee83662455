"""Adapter configs: frozen dataclasses with string names, cross-field checks and a JSON round trip.

Each method family has its own module; importing this package registers every config name.
"""

from .base import CONFIG_CLASSES, AdapterConfig, register_config, resolve_config
from .bottleneck import BnConfig, DoubleSeqBnConfig, ParBnConfig, SeqBnConfig
from .compacter import CompacterConfig, CompacterPlusPlusConfig, PhmOptions
from .invertible import DoubleSeqBnInvConfig, InvertibleOptions, SeqBnInvConfig
from .lora import DoRAConfig, IA3Config, LoRABaseConfig, LoRAConfig
from .prefix_tuning import PrefixTuningConfig
from .prompt_tuning import PromptTuningConfig
from .reft import DiReftConfig, LoReftConfig, NoReftConfig, ReftConfig
from .union import ConfigUnion, MAMConfig, UniPELTConfig


__all__ = [
    "CONFIG_CLASSES",
    "AdapterConfig",
    "BnConfig",
    "CompacterConfig",
    "CompacterPlusPlusConfig",
    "ConfigUnion",
    "DiReftConfig",
    "DoRAConfig",
    "DoubleSeqBnConfig",
    "DoubleSeqBnInvConfig",
    "IA3Config",
    "InvertibleOptions",
    "LoRABaseConfig",
    "LoRAConfig",
    "LoReftConfig",
    "NoReftConfig",
    "MAMConfig",
    "ParBnConfig",
    "PhmOptions",
    "PrefixTuningConfig",
    "PromptTuningConfig",
    "ReftConfig",
    "SeqBnConfig",
    "SeqBnInvConfig",
    "UniPELTConfig",
    "register_config",
    "resolve_config",
]
