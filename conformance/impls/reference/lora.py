"""The reference's LoRA family (LoRA, IA3, DoRA) under canonical names (tensors and formula: conformance.oracles.lora).

The reference keeps one ``ProjectionAdapter`` per adapted matrix on the site of its projection; a fused qkv
projection's site holds one per matrix (``FusedProjectionAdapter.matrices``). A site's location is
``"<stack>.<attention kind>.<q|k|v|output|qkv>"`` or ``"<stack>.ffn_in|ffn_out"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from architectures.live import get_path

from .weights import register


FAMILY = "lora"

# canonical tensor -> where a ProjectionAdapter keeps it; each variant has those its formula needs
PARAMETERS = {
    "A": "lora_A.weight",  # (r, in): lora_A is nn.Linear(in, r), whether the projection is a Linear or a Conv1D
    "B": "lora_B.weight",  # (out, r)
    "magnitude": "magnitude",  # (out,)
    "scale": "scale",  # (out,)
}


def _canonical_site(location: str) -> str:
    """``"decoder.cross_attention.output"`` -> ``"cross_attention.o"``; ``"encoder.ffn_in"`` -> ``"ffn_in"``."""
    _, _, site = location.partition(".")
    kind, _, matrix = site.rpartition(".")
    return f"{kind}.o" if kind and matrix == "output" else site


def _adapters(model: Any, name: str) -> Iterator[tuple[int, str, Any]]:
    """(layer, canonical site, ProjectionAdapter) for every matrix adapter ``name`` adapts."""
    from reference_impl.methods.lora import FusedProjectionAdapter
    from reference_impl.sites import sites

    for _, site in sites(model):
        entry = site.adapters(name).get(FAMILY)
        if entry is None:
            continue
        entry = getattr(entry, "inner", entry)  # UniPELT wraps it in a gate; the gate is not a LoRA tensor
        where = _canonical_site(site.location)
        if isinstance(entry, FusedProjectionAdapter):
            attention = where.rpartition(".")[0]
            for matrix, adapter in entry.matrices.items():
                yield site.layer_index, f"{attention}.{matrix}", adapter
        else:
            yield site.layer_index, where, entry


def _parameters(model: Any, name: str) -> dict[str, torch.nn.Parameter]:
    from conformance.weights import key

    found = {}
    for layer, site, adapter in _adapters(model, name):
        for tensor, path in PARAMETERS.items():
            if hasattr(adapter, path.partition(".")[0]):
                found[key(layer, site, tensor)] = get_path(adapter, path)
    return found


def read(model: Any, name: str) -> dict[str, torch.Tensor]:
    return {k: p.detach().clone() for k, p in _parameters(model, name).items()}


@torch.no_grad()
def write(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    parameters = _parameters(model, name)
    for k, value in weights.items():
        if k not in parameters:
            raise KeyError(f"adapter {name!r} has no LoRA-family tensor {k!r}")
        target = parameters[k]
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(f"{k}: expected shape {tuple(target.shape)}, got {tuple(value.shape)}")
        target.copy_(value)


register(FAMILY, read, write)
