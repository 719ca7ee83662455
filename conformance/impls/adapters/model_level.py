"""AdapterHub's prefix tuning, prompt tuning and invertible adapters under canonical names (tensors and formulas:
``conformance.oracles.prefix_tuning``, ``.prompt_tuning``, ``.invertible``).

Prefix tuning: one ``PrefixTuningPool`` holds, per adapter and location (``self_prefix``, ``cross_prefix``), a module
that yields every layer's keys and values (n_layers x (2, batch, heads, length, head size)); each attention's
``PrefixTuningLayer`` knows its index (``prefixes[name]``). The canonical ``key`` / ``value`` are the effective prefix
(length x heads * head size, in eval mode): derived through the MLP, stored in a flat prefix. Prompt tuning keeps
``prompt_embedding.weight``; an invertible adapter's coupling block keeps two subnets (Linear, act, Linear): NICE's
``F`` and ``G``, Glow's ``s2`` and ``s1`` (the canonical ``F`` and ``G``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from conformance.weights import key

from .places import layers, modules_of_type
from .slots import Slot, derived, stored


def _effective(group: Any, prefix_id: int, which: int) -> torch.Tensor:
    was = group.training
    group.eval()
    try:
        key_values = group(1)[prefix_id]  # (2, 1, heads, length, head size)
    finally:
        group.train(was)
    pair = key_values[which, 0]
    return pair.permute(1, 0, 2).reshape(pair.shape[1], -1)


def _flat(group: Any, prefix_id: int, which: int) -> Slot:
    length = group.config.prefix_length
    view = group.control_trans.detach().view(length, group.n_layers * 2, group.n_heads, group.n_embd_per_head)
    part = view[:, 2 * prefix_id + which]

    def write(value: torch.Tensor) -> None:
        part.copy_(value.reshape(part.shape).to(part.dtype))

    return Slot(lambda: part.reshape(length, -1).clone(), write)


def prefix_slots(model: Any, name: str) -> Iterator[tuple[str, Slot]]:
    for index, _, layer in layers(model):
        for module in modules_of_type(layer, "PrefixTuningLayer"):
            if name not in module.prefixes:
                continue
            kind = "cross_attention" if "cross" in module.location_key else "self_attention"
            site = f"{kind}.prefix"
            group = module.pool.prefix_tunings[name][module.location_key]
            prefix_id = module.prefixes[name]
            for which, tensor in enumerate(("key", "value")):
                if type(group).__name__ == "FlatPrefixTuning":
                    yield key(index, site, tensor), _flat(group, prefix_id, which)
                else:
                    yield key(index, site, tensor), derived(lambda g=group, i=prefix_id, w=which: _effective(g, i, w))
            if name in module.prefix_gates:
                gate = module.prefix_gates[name]
                yield key(index, site, "gate_weight"), stored(gate.weight.detach())
                yield key(index, site, "gate_bias"), stored(gate.bias.detach())


def _holder(model: Any, attribute: str, name: str) -> Any:
    for module in model.modules():
        held = getattr(module, attribute, None)
        if isinstance(held, torch.nn.ModuleDict) and name in held:
            return held[name]
    return None


def prompt_slots(model: Any, name: str) -> Iterator[tuple[str, Slot]]:
    prompt = _holder(model, "prompt_tunings", name)
    if prompt is not None:
        yield key(None, "prompt", "embedding"), stored(prompt.prompt_embedding.weight.detach())


def invertible_slots(model: Any, name: str) -> Iterator[tuple[str, Slot]]:
    block = _holder(model, "invertible_adapters", name)
    if block is None:
        return
    subnets = {"F": block.F, "G": block.G} if hasattr(block, "F") else {"F": block.s2, "G": block.s1}
    for subnet, sequential in subnets.items():
        down, up = (m for m in sequential if isinstance(m, torch.nn.Linear))
        yield key(None, "invertible", f"{subnet}_down"), stored(down.weight.detach())
        yield key(None, "invertible", f"{subnet}_down_bias"), stored(down.bias.detach())
        yield key(None, "invertible", f"{subnet}_up"), stored(up.weight.detach())
        yield key(None, "invertible", f"{subnet}_up_bias"), stored(up.bias.detach())
