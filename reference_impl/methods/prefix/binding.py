"""The link from one attention module to the prefix pools that cover it, and the prefix it gets in a forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn

from ...context import context_setup
from ...sites import site_of


if TYPE_CHECKING:
    from ...state import AdapterState

FAMILY = "prefix_tuning"  # the site entry holding prefix pools
BINDING_ATTRIBUTE = "_adapter_prefix_binding"


class Prefix(NamedTuple):
    """What an attention puts in front: keys and values, each (batch, kv_heads, length, head_dim), made of one
    segment per active prefix adapter; ``gates`` holds, per segment, its (batch, queries, 1) gate or None.

    A gate g_i (UniPELT) scales the segment's keys and values as query token i sees them: g_i k_p and g_i v_p."""

    keys: torch.Tensor
    values: torch.Tensor
    gates: tuple[tuple[torch.Tensor | None, int], ...] = ()

    @property
    def length(self) -> int:
        return self.keys.shape[2]

    @property
    def gated(self) -> bool:
        return any(gate is not None for gate, _ in self.gates)

    def factors(self, dtype: torch.dtype) -> torch.Tensor | None:
        """(batch, queries, length): what scales each query's prefix keys and values; None without gates."""
        if not self.gated:
            return None
        batch, queries = next(gate.shape[:2] for gate, _ in self.gates if gate is not None)
        parts = [
            torch.ones(batch, queries, length, dtype=dtype, device=self.keys.device)
            if gate is None
            else gate.to(dtype).expand(-1, -1, length)
            for gate, length in self.gates
        ]
        return torch.cat(parts, dim=-1)


class PrefixBinding:
    """Where this attention's prefixes are (pool ``key`` of the adapters on the ``holder``'s site), for which layer,
    and through which route."""

    def __init__(self, state: AdapterState, holder: nn.Module, key: str, kind: str, layer_index: int, location: str):
        self.state = state
        self.holder = holder
        self.key = key
        self.kind = kind
        self.layer_index = layer_index
        self.location = location  # e.g. "decoder.cross_attention.prefix", for gating scores
        self.route: Any = None  # set by the route that installs this binding
        self.hidden: torch.Tensor | None = None  # the attention's input during its forward (for gates)

    def prefix(self, batch: int, hidden: torch.Tensor | None = None) -> Prefix | None:
        """The prefix of the active prefix adapters, in setup order, for a batch; None when none is active here."""
        setup = context_setup() or self.state.active
        site = site_of(self.holder)
        if setup is None or site is None or FAMILY not in site:
            return None
        adapters = site[FAMILY]
        hidden = self.hidden if hidden is None else hidden
        keys, values, gates = [], [], []
        for name in setup.flatten():
            pool = adapters[name].pool(self.key) if name in adapters else None
            if pool is None or not pool.covers(self.layer_index):
                continue
            k, v = pool.key_values(self.layer_index)
            keys.append(k.unsqueeze(0).expand(batch, -1, -1, -1))
            values.append(v.unsqueeze(0).expand(batch, -1, -1, -1))
            gates.append((pool.gate(self.layer_index, hidden, name, self.location), k.shape[1]))
        if not keys:
            return None
        return Prefix(torch.cat(keys, dim=2), torch.cat(values, dim=2), tuple(gates))


def binding_of(module: nn.Module) -> PrefixBinding | None:
    return module.__dict__.get(BINDING_ATTRIBUTE)


def bind(module: nn.Module, binding: PrefixBinding) -> None:
    module.__dict__[BINDING_ATTRIBUTE] = binding


def unbind(module: nn.Module) -> None:
    module.__dict__.pop(BINDING_ATTRIBUTE, None)


def first_argument(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    """The module's first forward argument, passed by position or as ``name``."""
    return args[0] if args else kwargs.get(name)
