"""AdapterHub ``adapters`` checkpoint folders: ``adapter_config.json`` with ``adapter.safetensors`` (or the pickle
``pytorch_adapter.bin``), read into and written from the reference's adapters.

AdapterHub saves an adapter's entries of the model's ``state_dict``; their names follow its module tree. The map to
the reference's weights is static (``_own_to_hub``), from a reference key ``<module>.adapter_site.<family>.{name}.<t>``
and the spec's module layout:

- LoRA and IA3: AdapterHub wraps the same projection (``<module>``) and keeps ``loras.<name>.lora_A`` (r x in) and
  ``lora_B`` (out x r; IA3's vector as out x 1). A fused qkv projection (GPT-2's ``c_attn``) stacks the adapted
  matrices' rows in q, k, v order: A in blocks of r rows, B (or IA3's vector) in blocks of the matrix's rows.
- Bottleneck adapters: AdapterHub's adapter layer is a module of its own per layer (``HOLDERS``, per layout), holding
  ``adapters.<name>.adapter_down.<i>`` (a Sequential: the layer norm ``ln_before`` first when there is one, also saved
  as ``adapter_norm_before``), ``adapter_up`` and ``adapter_norm_after``.
- Prefix tuning: AdapterHub's model-level pool ``prefix_tuning.prefix_tunings.<name>.<pool>`` (``wte`` and the MLP
  ``control_trans.0`` / ``.2``, or a flat ``control_trans``; ``PREFIX_POOLS``: one per stack and attention kind),
  saved again under every attention of every layer (of its tower, where towers keep their own: ``PREFIX_TOWERS``).

Mapped: every model type of AdapterHub 1.3's model table (``MODEL_TYPES``), each checked both ways against AdapterHub
(tests/test_adapters_interop.py), but for ``REFUSED``: where what AdapterHub runs differs from what its file says
(its ALBERT and BERT2BERT adapters after the attention; ...) or where it has no such adapter. These tables are in ``adapterhub_models``. Where AdapterHub places bottleneck adapters otherwise than
the definition (BEiT, Gemma 2 / 3, GPT-J, ModernBERT, Phi: docs/adapters/placement.md), they load with ``placement="adapterhub"``
and only adapters with it are saved.

A pickle is read only by torch's weights-only unpickler (tensors and containers, no code); one it refuses is refused
with how to convert it.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from architectures.live import layers_of

from ..configs import AdapterConfig
from .adapterhub_configs import as_written, from_reference, to_reference
from .adapterhub_models import (
    HOLDERS,
    PREFIX_POOLS,
    PREFIX_POOLS_OF,
    PREFIX_TOWERS,
    check_mapped,
    model_type_of,
    swap_ffn_lora,
)


CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter.safetensors"
PICKLE_NAME = "pytorch_adapter.bin"
HEAD_CONFIG_NAME = "head_config.json"
FILES = (CONFIG_NAME, WEIGHTS_NAME, PICKLE_NAME)
VERSION = "adapters.1.3.0"  # the layout written; AdapterHub renames activations of a config without a version
SITE = ".adapter_site."


@dataclass(frozen=True)
class HubTensor:
    """Where a reference tensor is in AdapterHub's state dict: ``key``, rows ``rows`` of it (a fused projection's
    block), stored as a column (IA3's vector), and other keys AdapterHub saves the same tensor under."""

    key: str
    rows: slice | None = None
    column: bool = False
    aliases: tuple[str, ...] = ()
    # a flat prefix: the reference's (layers, 2, length, hidden) is AdapterHub's flat (length, layers, 2, hidden)
    prefix: bool = False


def _to_own_layout(place: HubTensor, value: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if place.column:
        value = value.reshape(-1)
    if place.rows is not None:
        value = value[place.rows]
    if value.numel() != shape.numel():
        return value  # the shape check names it
    if place.prefix:
        layers, _, length, hidden = shape
        return value.reshape(length, layers, 2, hidden).permute(1, 2, 0, 3)
    return value.reshape(shape)


def _to_hub_layout(place: HubTensor, value: torch.Tensor) -> torch.Tensor:
    if place.prefix:
        return value.permute(2, 0, 1, 3).reshape(-1)
    return value.reshape(-1) if place.column else value


def is_adapterhub_folder(directory: Path, own_weights: str) -> bool:
    """AdapterHub's weights and not the reference's own: the layout decides, not the config's content."""
    own = (directory / own_weights).is_file()
    return not own and any((directory / name).is_file() for name in (WEIGHTS_NAME, PICKLE_NAME))


@dataclass(frozen=True)
class HubAdapter:
    name: str
    config: AdapterConfig
    model_type: str | None
    tensors: dict[str, torch.Tensor]


def read_payload(path: Path, what: str) -> dict[str, Any]:
    """AdapterHub's JSON beside its weights (an object with 'name' and 'config'); ValueError saying what is wrong."""
    if not path.is_file():
        raise ValueError(f"cannot load an AdapterHub {what} from {path.parent}: {path.name} is missing")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str) or "config" not in payload:
        raise ValueError(f"{path} is not AdapterHub's {what} config (an object with 'name' and 'config')")
    return payload


def read_folder(directory: Path) -> HubAdapter:
    """The adapter AdapterHub saved in ``directory``, its config translated; ValueError saying what is wrong."""
    path = directory / CONFIG_NAME
    payload = read_payload(path, "adapter")
    try:
        config = to_reference(as_written(payload))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return HubAdapter(payload["name"], config, model_type_of(payload.get("model_type")), read_tensors(directory))


def read_tensors(
    directory: Path, safe_name: str = WEIGHTS_NAME, pickle_name: str = PICKLE_NAME
) -> dict[str, torch.Tensor]:
    """The tensors of an AdapterHub weights file: safetensors, else its pickle through the weights-only unpickler."""
    safe, pickled = directory / safe_name, directory / pickle_name
    if safe.is_file():
        try:
            return load_file(str(safe))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{safe} is not a readable safetensors file: {err}") from None
    try:  # weights_only: torch's restricted unpickler builds tensors and containers, never runs code
        state = torch.load(pickled, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{pickled} is a pickle that torch's weights-only loader refuses ({first}); it is never unpickled "
            "otherwise, as a pickle can run code. Convert it where you trust its source: load it with AdapterHub and "
            f"save it again with use_safetensors=True, or save_file(torch.load(path, weights_only=False), "
            f"'{safe_name}') with safetensors.torch, into {directory}"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{pickled} does not hold a state dict (names to tensors)")
    return state


def _strip_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys relative to the base model: AdapterHub saves from a model with a head under ``<base_model_prefix>.``."""
    if prefix and tensors and all(k.startswith(prefix + ".") for k in tensors):
        return {k[len(prefix) + 1 :]: v for k, v in tensors.items()}
    return tensors


def to_own(model: Any, hub: HubAdapter, own: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The reference's weights (keyed like ``own``, the new adapter's) from AdapterHub's tensors, and the AdapterHub
    keys nothing reads (unexpected)."""
    tensors = _strip_prefix(hub.tensors, getattr(model, "base_model_prefix", ""))
    places = _own_to_hub(model, hub.config, hub.name, own)
    used: set[str] = set()
    found = {}
    for key, place in places.items():
        used.update(place.aliases)
        if place.key in tensors:
            used.add(place.key)
            found[key] = _to_own_layout(place, tensors[place.key], own[key].shape)
    if tensors and not found:  # not one tensor where this model keeps them: not a partial load, a wrong file
        raise ValueError(
            f"no tensor of the AdapterHub adapter {hub.name!r} is where a {model.adapter_state.spec.name!r} model "
            f"keeps it (saved from another model? its first key: {sorted(tensors)[0]!r})"
        )
    return found, sorted(set(tensors) - used)


def to_hub(model: Any, name: str, own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """AdapterHub's state dict of adapter ``name`` from the reference's weights ``own`` (relative keys)."""
    grouped: dict[str, list[tuple[int, HubTensor, torch.Tensor]]] = {}
    for key, place in _own_to_hub(model, model.adapter_state.configs[name], name, own).items():
        start = place.rows.start if place.rows is not None else 0
        for target in (place.key, *place.aliases):
            grouped.setdefault(target, []).append((start, place, own[key]))
    out = {}
    for target, parts in grouped.items():
        parts.sort(key=lambda part: part[0])
        value = torch.cat([_to_hub_layout(p, v) for _, p, v in parts])
        out[target] = (value.reshape(-1, 1) if parts[0][1].column else value).contiguous()
    return out


def hub_config(model: Any, name: str, config: AdapterConfig) -> dict[str, Any]:
    """``adapter_config.json`` as AdapterHub writes it."""
    state = model.adapter_state
    return {
        "config": from_reference(swap_ffn_lora(config, state.spec.name)),
        "hidden_size": state.hidden_size,
        "model_class": getattr(type(model), "transformers_class", type(model)).__name__,
        "model_name": getattr(model.config, "name_or_path", "") or "",
        "model_type": getattr(model.config, "model_type", None)
        or state.spec.name,  # transformers' name, as AdapterHub
        "name": name,
        "version": VERSION,
    }


def _own_to_hub(model: Any, config: AdapterConfig, name: str, own: dict[str, torch.Tensor]) -> dict[str, HubTensor]:
    """For every reference key of ``own`` (with ``{name}``), where AdapterHub keeps it (adapter ``name``)."""
    check_mapped(model.adapter_state.spec, config, model.adapter_state.layout.name)
    ln_before = bool(getattr(config, "ln_before", False))
    fused = _fused_blocks(own)
    places = {}
    for key in own:
        module, _, rest = ("." + key).partition(SITE)  # a model-level site (a prefix pool) has no module path
        module = module[1:]
        family, _, tensor = rest.partition(".{name}.")
        if family == "lora":
            places[key] = _lora(module, name, tensor, own[key], fused.get(module))
        elif family == "bottleneck":
            places[key] = _bottleneck(model, module, name, tensor, ln_before)
        elif family == "prefix_tuning":
            places[key] = _prefix(model, name, tensor)
        else:
            raise ValueError(f"AdapterHub checkpoint interop: no map of the reference's {family!r} tensors")
    return places


def _fused_blocks(own: dict[str, torch.Tensor]) -> dict[str, dict[str, int]]:
    """Per fused projection, the order of its adapted matrices (q, k, v order, as AdapterHub stacks them)."""
    found: dict[str, set[str]] = {}
    for key in own:
        module, _, rest = ("." + key).partition(SITE)
        module, tensor = module[1:], rest.partition(".{name}.")[2]
        if tensor.startswith("matrices."):
            found.setdefault(module, set()).add(tensor.split(".")[1])
    return {module: {m: i for i, m in enumerate(sorted(ms, key="qkv".index))} for module, ms in found.items()}


def _lora(module: str, name: str, tensor: str, value: torch.Tensor, blocks: dict[str, int] | None) -> HubTensor:
    base = f"{module}.loras.{name}."
    rows = None
    if tensor.startswith("matrices."):
        _, matrix, tensor = tensor.split(".", 2)
        size = value.shape[0]  # A: r rows; B and IA3's vector: the matrix's rows
        rows = slice(blocks[matrix] * size, (blocks[matrix] + 1) * size)
    if tensor == "lora_A.weight":
        return HubTensor(base + "lora_A", rows)
    if tensor == "lora_B.weight":
        return HubTensor(base + "lora_B", rows)
    if tensor == "scale":
        return HubTensor(base + "lora_B", rows, column=True)
    raise ValueError(f"AdapterHub checkpoint interop: no map of the LoRA-family tensor {tensor!r}")


def _bottleneck(model: Any, module: str, name: str, tensor: str, ln_before: bool) -> HubTensor:
    state = model.adapter_state
    holders = HOLDERS.get(state.spec.name) or HOLDERS.get(state.layout.name)
    layer, where = _layer_and_site(model, module)
    if holders is None or where not in holders:
        raise ValueError(
            f"AdapterHub checkpoint interop: no AdapterHub bottleneck layer at {where!r} of {state.spec.name!r}"
        )
    path = module[len(layer) + 1 :].split(".")  # the site's projection, relative to the layer
    holder = holders[where].format(parent=".".join(path[:-1]), grandparent=".".join(path[:-2]))
    base = f"{layer}.{holder}.adapters.{name}."
    part, _, kind = tensor.rpartition(".")
    down = 1 if ln_before else 0  # the Sequential holds the layer norm first, then the projection
    names = {"down": f"adapter_down.{down}", "up": "adapter_up", "ln_after": "adapter_norm_after"}
    if part == "ln_before":
        return HubTensor(f"{base}adapter_norm_before.{kind}", aliases=(f"{base}adapter_down.0.{kind}",))
    if part in names:
        return HubTensor(f"{base}{names[part]}.{kind}")
    raise ValueError(f"AdapterHub checkpoint interop: no map of the bottleneck tensor {tensor!r}")


def _prefix(model: Any, name: str, tensor: str) -> HubTensor:
    """``pools.<stack>_<kind>.<tensor>`` -> the pool's tensor; flat: ``control_trans``, else ``wte`` and the MLP."""
    state = model.adapter_state
    _, pool, part = tensor.split(".", 2)
    stacks = state.layout.stacks
    stack = next((s for s in stacks if pool.startswith(f"{s.name}_")), None)
    kind = pool.removeprefix(f"{stack.name}_") if stack is not None else pool
    hub_pool = PREFIX_POOLS_OF.get(state.layout.name, {}).get(pool) or PREFIX_POOLS.get(kind)
    names = {
        "prefix": "control_trans",
        "embedding": "wte.weight",
        "down.weight": "control_trans.0.weight",
        "down.bias": "control_trans.0.bias",
        "up.weight": "control_trans.2.weight",
        "up.bias": "control_trans.2.bias",
    }
    if hub_pool is None or part not in names:
        raise ValueError(f"AdapterHub checkpoint interop: no map of the prefix tuning tensor {tensor!r}")
    where = f"prefix_tunings.{name}.{hub_pool}.{names[part]}"
    towers = PREFIX_TOWERS.get(state.layout.name, {})
    tower = towers.get(stack.name, "") if stack is not None else ""
    aliases = tuple(
        f"{other.path}.{i}.{attention.module}.prefix_tuning.pool.{where}"
        for other in stacks
        if towers.get(other.name, "") == tower
        for i in range(len(layers_of(other, model)))
        for attention in (other.self_attention, other.cross_attention)
        if attention is not None
    )
    root = f"{tower}." if tower else ""
    return HubTensor(f"{root}prefix_tuning.{where}", aliases=aliases, prefix=part == "prefix")


def _layer_and_site(model: Any, module: str) -> tuple[str, str]:
    """``"encoder.layer.0.output.dense"`` -> (``"encoder.layer.0"``, ``"ffn_out"``), from the layout's paths."""
    for stack in model.adapter_state.layout.stacks:
        head = stack.path + "."
        if not module.startswith(head):
            continue
        index, _, inner = module[len(head) :].partition(".")
        if inner == stack.ffn_out:
            return head + index, "ffn_out"
        if inner == stack.self_attention.output:
            return head + index, "self_attention.output"
        return head + index, inner
    raise ValueError(f"AdapterHub checkpoint interop: {module!r} is in no layer of the layout")
