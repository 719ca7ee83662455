"""The reference's prefix tuning under canonical names (tensors and formula: ``conformance.oracles.prefix_tuning``).

The reference keeps one pool per attention kind of each layer stack; a pool covers the layers it has a prefix for.
Per covered layer and attention kind (``self_attention`` / ``cross_attention``), site ``<kind>.prefix``:
``key`` and ``value`` (prefix_length x kv_dim, the effective prefix: through the reparametrising MLP where there is
one, in eval mode), and with gating ``gate_weight`` (1 x hidden) and ``gate_bias`` (1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from conformance.weights import key

from .weights import register


FAMILY = "prefix_tuning"


def _pools(model: Any, name: str) -> Iterator[Any]:
    from reference_impl.methods.model_level import held

    adapter = held(model, FAMILY).get(name)
    if adapter is not None:
        yield from adapter.pools.values()


@contextlib.contextmanager
def _eval(module: torch.nn.Module) -> Iterator[None]:
    """``module`` in eval mode (no prefix dropout) for the duration."""
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


@torch.no_grad()
def read(model: Any, name: str) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for pool in _pools(model, name):
        site = f"{pool.shape.kind}.prefix"
        with _eval(pool):
            for at, layer in enumerate(pool.shape.layers):
                keys, values = pool.key_values(layer)  # (kv_heads, length, head_dim) each
                found[key(layer, site, "key")] = keys.transpose(0, 1).flatten(1).clone()
                found[key(layer, site, "value")] = values.transpose(0, 1).flatten(1).clone()
                gates = getattr(pool, "gates", None)
                if gates is not None:
                    found[key(layer, site, "gate_weight")] = gates[at].weight.detach().clone()
                    found[key(layer, site, "gate_bias")] = gates[at].bias.detach().clone()
    return found


@torch.no_grad()
def write(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    for pool in _pools(model, name):
        site = f"{pool.shape.kind}.prefix"
        for at, layer in enumerate(pool.shape.layers):
            for tensor in ("key", "value"):
                wanted = weights.get(key(layer, site, tensor))
                if wanted is None:
                    continue
                if not pool.flat:
                    raise KeyError(
                        f"{key(layer, site, tensor)}: adapter {name!r} computes its prefix through an MLP "
                        "(flat=False), so the effective prefix cannot be written; add it with flat=True to write it"
                    )
                pool.prefix[at, 0 if tensor == "key" else 1].copy_(wanted)
            for tensor, attribute in (("gate_weight", "weight"), ("gate_bias", "bias")):
                wanted = weights.get(key(layer, site, tensor))
                if wanted is not None:
                    getattr(pool.gates[at], attribute).copy_(wanted)


register(FAMILY, read, write)
