"""``average_adapter``: a new adapter whose weights combine those of existing adapters of one config.

How weights combine is the method family's business (``MethodFamily.combine_strategies``; linear by default); this
module checks the request, computes the weights before touching the model, and adds the adapter all or nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .methods import family_of
from .sites import rename_adapter_in_key


# Config fields that only say how an adapter starts (or regularises) its training: adapters that differ in them
# have the same weights' shapes and meaning, so they may be averaged.
TRAINING_ONLY_FIELDS = frozenset({"init_weights", "init_weights_seed", "dropout"})
PLACEHOLDER = "{name}"


def average_adapter(
    model: Any,
    adapter_name: str,
    adapter_list: Sequence[str],
    weights: Sequence[float] | None = None,
    normalize_weights: bool = True,
    overwrite_ok: bool = False,
    set_active: bool = False,
    combine_strategy: str = "linear",
) -> None:
    names = _checked_names(model, adapter_name, adapter_list, overwrite_ok)
    weights = _checked_weights(weights, len(names), normalize_weights)
    config = _common_config(model, names)
    strategies = family_of(config).combine_strategies
    if not strategies:
        raise ValueError(f"averaging is not defined for {config.name!r} adapters; their weights do not combine")
    if combine_strategy not in strategies:
        raise ValueError(
            f"combine_strategy {combine_strategy!r} is not defined for {config.name!r} adapters; "
            f"choose from {', '.join(sorted(strategies))}"
        )
    sources = [_weights_of(model, name) for name in names]
    combined = strategies[combine_strategy](sources, weights)
    if set(combined) != set(sources[0]):
        raise ValueError(
            f"combine_strategy {combine_strategy!r} did not give every weight of a {config.name!r} adapter"
        )

    previous = _snapshot(model, adapter_name)
    active_before = model.adapter_state.active
    try:
        model.add_adapter(adapter_name, config, overwrite_ok=True)
        _assign(model, adapter_name, combined)
    except Exception:
        if adapter_name in model.adapters_config:
            model.delete_adapter(adapter_name)
        if previous is not None:
            model.add_adapter(adapter_name, previous[0])
            _assign(model, adapter_name, previous[1])
        model.adapter_state.active = active_before
        raise
    if set_active:
        model.set_active_adapters(adapter_name)


def _checked_names(model: Any, adapter_name: str, adapter_list: Sequence[str], overwrite_ok: bool) -> list[str]:
    if isinstance(adapter_list, str) or not adapter_list:
        raise ValueError(f"adapter_list must be a non-empty list of adapter names, got {adapter_list!r}")
    names = list(adapter_list)
    known = model.adapters_config
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"cannot average {unknown}: no such adapter; adapters of this model: {', '.join(known)}")
    if adapter_name in names:
        raise ValueError(f"the averaged adapter {adapter_name!r} cannot also be one of its sources; pick a new name")
    if adapter_name in known and not overwrite_ok:
        raise ValueError(f"an adapter named {adapter_name!r} exists already; pass overwrite_ok=True to replace it")
    return names


def _checked_weights(weights: Sequence[float] | None, count: int, normalize: bool) -> list[float]:
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"got {len(weights)} weights for {count} adapters; give one weight per adapter")
    if not all(math.isfinite(w) for w in weights):
        raise ValueError(f"weights must be finite numbers, got {weights}")
    if normalize:
        total = sum(weights)
        if abs(total) < 1e-12:
            raise ValueError(f"weights {weights} sum to 0 and cannot be normalised; pass normalize_weights=False")
        weights = [w / total for w in weights]
    return weights


def _common_config(model: Any, names: list[str]) -> Any:
    configs = [model.adapters_config[n] for n in names]
    first = configs[0]

    def shape_defining(config: Any) -> dict[str, Any]:
        return {k: v for k, v in config.to_dict().items() if k not in TRAINING_ONLY_FIELDS}

    for name, config in zip(names[1:], configs[1:], strict=True):
        if type(config) is not type(first) or shape_defining(config) != shape_defining(first):
            raise ValueError(
                f"cannot average {names[0]!r} ({first.to_json()}) with {name!r} ({config.to_json()}): "
                "adapters to average must have the same config"
            )
    return first


def _weights_of(model: Any, name: str) -> dict[str, torch.Tensor]:
    """The adapter's parameters, keyed by their name in the model with the adapter's name as a placeholder."""
    return {
        rename_adapter_in_key(key, PLACEHOLDER): param.detach()
        for key, param in model.adapter_parameters(name).items()
    }


def _assign(model: Any, name: str, weights: dict[str, torch.Tensor]) -> None:
    params = model.adapter_parameters(name)
    with torch.no_grad():
        for key, value in weights.items():
            target = params[rename_adapter_in_key(key, name)]
            if target.shape != value.shape:
                raise ValueError(
                    f"averaged weight {key} has shape {tuple(value.shape)}, expected {tuple(target.shape)}"
                )
            target.copy_(value)


def _snapshot(model: Any, name: str) -> tuple[Any, dict[str, torch.Tensor]] | None:
    if name not in model.adapters_config:
        return None
    return model.adapters_config[name], {k: v.clone() for k, v in _weights_of(model, name).items()}
