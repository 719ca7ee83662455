"""The reference adapter implementation: the implementation the conformance suite certifies by default.

Public names follow AdapterHub ``adapters`` so the same checks can certify that library too.
"""

from .composition import Average, BatchSplit, CompositionBlock, Fuse, Parallel, Split, Stack, parse_composition
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
from .fusion import FusionConfig
from .model import ModelAdaptersMixin, init
from .persistence import LoadedAdapter


__all__ = [
    "AdapterConfig",
    "AdapterSetup",
    "Average",
    "BatchSplit",
    "CompositionBlock",
    "Fuse",
    "FusionConfig",
    "Parallel",
    "Split",
    "Stack",
    "parse_composition",
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
