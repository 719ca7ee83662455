"""Flexible prediction heads and the adapter model that holds them (names follow AdapterHub ``adapters``)."""

from .config import HeadConfig
from .conversion import from_static, to_static
from .files import LoadedHead
from .model import AdapterModel, AutoAdapterModel
from .modules import PredictionHead


__all__ = [
    "AdapterModel",
    "AutoAdapterModel",
    "HeadConfig",
    "LoadedHead",
    "PredictionHead",
    "from_static",
    "to_static",
]
