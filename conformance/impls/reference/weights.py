"""Reading and writing the reference implementation's adapter tensors under canonical names.

Each method family's translation is a module of this package that registers a ``FamilyWeights`` for the reference
family name (``reference_impl.methods``' ``MethodFamily.name``) it translates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class FamilyWeights:
    # (model, adapter name) -> {canonical name: tensor}
    read: Callable[[Any, str], dict[str, torch.Tensor]]
    # (model, adapter name, {canonical name: tensor}) -> None; raises KeyError for a name it cannot write
    write: Callable[[Any, str, Mapping[str, torch.Tensor]], None]


FAMILY_WEIGHTS: dict[str, FamilyWeights] = {}


def register(family: str, read: Callable[..., Any], write: Callable[..., Any]) -> None:
    FAMILY_WEIGHTS[family] = FamilyWeights(read, write)


def families_of(model: Any, name: str) -> Iterator[str]:
    """The reference family names adapter ``name`` uses (a union uses several)."""
    from reference_impl.methods import family_of
    from reference_impl.model import _parts

    config = model.adapters_config[name]
    seen = []
    for family, _ in _parts(config):
        if family.name not in seen:
            seen.append(family.name)
    if not seen:
        seen.append(family_of(config).name)
    if getattr(config, "gated", False):
        seen.append("union_gates")  # UniPELT: the gates around its parts (conformance.impls.reference.union)
    yield from seen


def _translation(family: str) -> FamilyWeights:
    from . import families  # noqa: F401  (registers every family's translation)

    try:
        return FAMILY_WEIGHTS[family]
    except KeyError:
        raise NotImplementedError(f"no canonical weight view for the reference family {family!r} yet") from None


def read_weights(model: Any, name: str) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for family in families_of(model, name):
        found.update(_translation(family).read(model, name))
    return dict(sorted(found.items()))


def write_weights(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    known = read_weights(model, name)
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise KeyError(f"adapter {name!r} has no canonical tensors {unknown}; it has {sorted(known)}")
    for family in families_of(model, name):
        translation = _translation(family)
        mine = set(translation.read(model, name))
        translation.write(model, name, {k: v for k, v in weights.items() if k in mine})
