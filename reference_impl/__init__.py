"""The reference adapter implementation: the implementation the conformance suite certifies by default.

Public names follow AdapterHub ``adapters`` so the same checks can certify that library too.
"""

from .composition import (
    AdapterCompositionBlock,
    Average,
    BatchSplit,
    CompositionBlock,
    Fuse,
    Parallel,
    Split,
    Stack,
    parse_composition,
)
from .configs import (
    AdapterConfig,
    BnConfig,
    ConfigUnion,
    DoRAConfig,
    DoubleSeqBnConfig,
    IA3Config,
    LoRAConfig,
    MAMConfig,
    ParBnConfig,
    PrefixTuningConfig,
    SeqBnConfig,
    UniPELTConfig,
    resolve_config,
)
from .context import AdapterSetup
from .full_model import load_model
from .fusion import FusionConfig
from .heads import AdapterModel, AutoAdapterModel, HeadConfig
from .model import ModelAdaptersMixin, init
from .persistence import LoadedAdapter


__all__ = [
    "AdapterConfig",
    "AdapterModel",
    "AdapterSetup",
    "AutoAdapterModel",
    "HeadConfig",
    "Average",
    "BatchSplit",
    "AdapterCompositionBlock",
    "CompositionBlock",
    "Fuse",
    "FusionConfig",
    "Parallel",
    "Split",
    "Stack",
    "parse_composition",
    "BnConfig",
    "ConfigUnion",
    "MAMConfig",
    "PrefixTuningConfig",
    "UniPELTConfig",
    "DoRAConfig",
    "DoubleSeqBnConfig",
    "IA3Config",
    "LoRAConfig",
    "LoadedAdapter",
    "ModelAdaptersMixin",
    "ParBnConfig",
    "SeqBnConfig",
    "init",
    "load_model",
    "resolve_config",
]
