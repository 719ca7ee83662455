"""Conformance check mixins, one module per concern. Each test body is written once and parametrized by the plugin
over (architecture, method); a class that sets ``spec = MY_SPEC`` certifies that one architecture by hand."""

from .forward import ForwardChecks
from .lifecycle import LifecycleChecks
from .merging import MergeChecks
from .persistence import PersistenceChecks
from .training import TrainingChecks


ALL_CHECKS = (LifecycleChecks, ForwardChecks, PersistenceChecks, TrainingChecks, MergeChecks)

__all__ = ["ALL_CHECKS", "ForwardChecks", "LifecycleChecks", "MergeChecks", "PersistenceChecks", "TrainingChecks"]
