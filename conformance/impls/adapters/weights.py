"""AdapterHub's adapter tensors under the suite's canonical names (conformance.weights).

Layers and projections are found through the suite's spec (the layout's paths), never through AdapterHub's own
layer iteration, so that a misplaced adapter shows as a missing or extra canonical tensor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from architectures.live import get_path, layers_of, resolve_layout
from conformance.weights import key


PROJECTION_SITES = ("q", "k", "v")


def _layers(model: Any) -> Iterator[tuple[int, Any, Any]]:
    spec = model.conformance_spec
    layout = resolve_layout(spec, model)
    index = 0
    for stack in layout.stacks:
        for layer in layers_of(stack, model):
            yield index, stack, layer
            index += 1


def _projections(stack: Any, layer: Any) -> Iterator[tuple[str, Any]]:
    """(canonical site, module) of every projection the LoRA family can adapt in one layer."""
    for kind, attention in (("self_attention", stack.self_attention), ("cross_attention", stack.cross_attention)):
        if attention is None:
            continue
        if attention.fused:
            yield f"{kind}.qkv", get_path(layer, attention.qkv)
        else:
            for matrix in PROJECTION_SITES:
                yield f"{kind}.{matrix}", get_path(layer, getattr(attention, matrix))
        yield f"{kind}.o", get_path(layer, attention.output)
    yield "ffn_in", get_path(layer, stack.ffn_in)
    yield "ffn_out", get_path(layer, stack.ffn_out)


def _lora_modules(model: Any, name: str) -> Iterator[tuple[int, str, Any]]:
    for index, stack, layer in _layers(model):
        for site, module in _projections(stack, layer):
            loras = getattr(module, "loras", None)
            if loras is not None and name in loras:
                yield index, site, loras[name]


def _read_lora(model: Any, name: str) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for index, site, lora in _lora_modules(model, name):
        if site.endswith(".qkv"):
            raise NotImplementedError("AdapterHub's merged qkv LoRA is not translated to canonical names yet")
        if type(lora).__name__ == "IA3":
            found[key(index, site, "scale")] = lora.lora_B.detach().reshape(-1).clone()
            continue
        found[key(index, site, "A")] = lora.lora_A.detach().clone()
        found[key(index, site, "B")] = lora.lora_B.detach().clone()
        magnitude = getattr(lora, "m", None)
        if magnitude is not None:
            found[key(index, site, "magnitude")] = magnitude.detach().reshape(-1).clone()
    return found


def _bottleneck_layers(model: Any) -> Iterator[tuple[int, str, Any]]:
    from adapters.methods.bottleneck import BottleneckLayer

    sites = {"mh_adapter": "attention_adapter", "output_adapter": "ffn_adapter"}
    for index, _, layer in _layers(model):
        for module in layer.modules():
            if isinstance(module, BottleneckLayer) and module.location_key in sites:
                yield index, sites[module.location_key], module


def _read_bottleneck(model: Any, name: str) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for index, site, layer in _bottleneck_layers(model):
        if name not in layer.adapters:
            continue
        adapter = layer.adapters[name]
        down, up = adapter.adapter_down[0], adapter.adapter_up
        if not isinstance(down, torch.nn.Linear) or not isinstance(up, torch.nn.Linear):
            raise NotImplementedError("AdapterHub's PHM (Compacter) layers are not translated to canonical names yet")
        for part, linear in (("down", down), ("up", up)):
            found[key(index, site, f"{part}.weight")] = linear.weight.detach().clone()
            found[key(index, site, f"{part}.bias")] = linear.bias.detach().clone()
    return found


def read_weights(model: Any, name: str) -> dict[str, torch.Tensor]:
    if name not in model.adapters_config:
        raise ValueError(f"no adapter named {name!r}")
    found = {**_read_lora(model, name), **_read_bottleneck(model, name)}
    if not found:
        raise NotImplementedError(f"adapter {name!r}: its method is not translated to canonical names yet")
    return dict(sorted(found.items()))


@torch.no_grad()
def write_weights(model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
    known = read_weights(model, name)
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise KeyError(f"adapter {name!r} has no canonical tensors {unknown}; it has {sorted(known)}")
    targets: dict[str, torch.Tensor] = {}
    for index, site, lora in _lora_modules(model, name):
        if type(lora).__name__ == "IA3":
            targets[key(index, site, "scale")] = lora.lora_B
        else:
            targets[key(index, site, "A")] = lora.lora_A
            targets[key(index, site, "B")] = lora.lora_B
    for index, site, layer in _bottleneck_layers(model):
        if name in layer.adapters:
            adapter = layer.adapters[name]
            for part, linear in (("down", adapter.adapter_down[0]), ("up", adapter.adapter_up)):
                targets[key(index, site, f"{part}.weight")] = linear.weight
                targets[key(index, site, f"{part}.bias")] = linear.bias
    for name_, value in weights.items():
        if name_ not in targets:
            raise KeyError(f"{name_!r} cannot be written into AdapterHub's modules")
        target = targets[name_]
        target.copy_(value.reshape(target.shape).to(target.dtype))
