"""AdapterHub's LoRA family (LoRA, IA3, DoRA, UniPELT's LoRA gates) under canonical names
(tensors and formula: ``conformance.oracles.lora``).

AdapterHub keeps ``lora_A`` (r x in) and ``lora_B`` (out x r) per wrapped projection, IA3's vector as ``lora_B``,
DoRA's magnitude as an ``nn.Linear(1, out)`` (``m.weight``, out x 1). A fused qkv projection (GPT-2's ``c_attn``,
``LoRAMergedLinear``) stacks one A (r rows) and one B (out/3 rows) per adapted matrix, in q, k, v order, applied as
a grouped convolution: matrix g's update is ``B[g*d:(g+1)*d] @ A[g*r:(g+1)*r]``; a gated one (UniPELT) has a gate
with one output per adapted matrix, row g that of matrix g.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.weights import key

from .places import layers, projections
from .slots import Slot, stored


def _gate(
    index: int, site: str, lora: Any, owner: int | None = None, row: int | None = None
) -> Iterator[tuple[str, Slot]]:
    gate = getattr(lora, "gate", None)
    if gate is not None:
        weight, bias = gate.weight.detach(), gate.bias.detach()
        if row is not None:  # a fused projection's gate: one output per adapted matrix (AdapterHub's gating_heads)
            weight, bias = weight[row : row + 1], bias[row : row + 1]
        yield key(index, site, "gate_weight"), stored(weight, owner)
        yield key(index, site, "gate_bias"), stored(bias, owner and owner + 1)


def _single(index: int, site: str, lora: Any) -> Iterator[tuple[str, Slot]]:
    if type(lora).__name__ == "IA3":
        yield key(index, site, "scale"), stored(lora.lora_B.detach().reshape(-1))
    else:
        yield key(index, site, "A"), stored(lora.lora_A.detach())
        yield key(index, site, "B"), stored(lora.lora_B.detach())
        magnitude = getattr(lora, "m", None)
        if magnitude is not None:
            yield key(index, site, "magnitude"), stored(magnitude.weight.detach().reshape(-1))
    yield from _gate(index, site, lora)


def _merged(index: int, site: str, module: Any, lora: Any) -> Iterator[tuple[str, Slot]]:
    kind = site.rpartition(".")[0]
    matrices = [m for m, on in zip("qkv", lora.enable_lora, strict=True) if on]
    rows = module.out_features // 3
    for group, matrix in enumerate(matrices):
        where = f"{kind}.{matrix}"
        if type(lora).__name__ == "IA3":
            yield (
                key(index, where, "scale"),
                stored(lora.lora_B.detach().reshape(-1)[group * rows : (group + 1) * rows]),
            )
        else:
            r = lora.r
            yield key(index, where, "A"), stored(lora.lora_A.detach()[group * r : (group + 1) * r])
            yield key(index, where, "B"), stored(lora.lora_B.detach()[group * rows : (group + 1) * rows])
        gate = getattr(lora, "gate", None)
        if gate is not None and gate.out_features == len(matrices):  # its row g gates the g-th adapted matrix
            yield from _gate(index, where, lora, row=group)
        else:
            yield from _gate(index, where, lora, owner=id(lora))


def slots(model: Any, name: str) -> Iterator[tuple[str, Slot]]:
    for index, stack, layer in layers(model):
        for site, module in projections(stack, layer):
            loras = getattr(module, "loras", None)
            if loras is None or name not in loras:
                continue
            if site.endswith(".qkv"):
                yield from _merged(index, site, module, loras[name])
            else:
                yield from _single(index, site, loras[name])
