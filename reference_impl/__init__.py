"""The reference adapter implementation: the implementation the conformance suite certifies by default.

Public names follow AdapterHub ``adapters`` so the same checks can certify that library too.
"""

from .configs import (
    AdapterConfig,
    BnConfig,
    DoubleSeqBnConfig,
    LoRAConfig,
    ParBnConfig,
    SeqBnConfig,
    resolve_config,
)
from .context import AdapterSetup
from .model import ModelAdaptersMixin, init
from .persistence import LoadedAdapter


__all__ = [
    "AdapterConfig",
    "AdapterSetup",
    "BnConfig",
    "DoubleSeqBnConfig",
    "LoRAConfig",
    "LoadedAdapter",
    "ModelAdaptersMixin",
    "ParBnConfig",
    "SeqBnConfig",
    "init",
    "resolve_config",
]
