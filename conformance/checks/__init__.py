"""Conformance check mixins, one module per concern. Each test body is written once and parametrized by the plugin
over (architecture, method); a class that sets ``spec = MY_SPEC`` certifies that one architecture by hand."""

from .averaging import WeightAveragingChecks
from .checkpointing import GradientCheckpointingChecks
from .class_conversion import ClassConversionChecks, HeadMapChecks
from .compacter import CompacterChecks
from .forward import ForwardChecks
from .full_model import FullModelChecks
from .generation import GenerationChecks
from .heads import HeadChecks, HeadTypeChecks
from .invertible import InvertibleChecks
from .lifecycle import LifecycleChecks
from .merging import MergeChecks
from .persistence import PersistenceChecks
from .prefix_tuning import PrefixTuningChecks
from .prompt_tuning import PromptTuningChecks
from .reft import ReftChecks
from .seeding import SeedChecks
from .training import TrainingChecks
from .unions import UnionChecks


__all__ = [
    "ClassConversionChecks",
    "CompacterChecks",
    "HeadChecks",
    "HeadMapChecks",
    "HeadTypeChecks",
    "InvertibleChecks",
    "ForwardChecks",
    "FullModelChecks",
    "GenerationChecks",
    "GradientCheckpointingChecks",
    "LifecycleChecks",
    "MergeChecks",
    "PersistenceChecks",
    "PrefixTuningChecks",
    "PromptTuningChecks",
    "ReftChecks",
    "SeedChecks",
    "TrainingChecks",
    "UnionChecks",
    "WeightAveragingChecks",
]
