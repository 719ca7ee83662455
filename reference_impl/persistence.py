"""Saving and loading single adapters: config as JSON, weights as safetensors. Nothing is ever unpickled."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .configs import resolve_config
from .sites import rename_adapter_in_key


CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
FORMAT_VERSION = 1
NAME_PLACEHOLDER = "{name}"  # saved keys do not carry the adapter's name, so it can be loaded under another


@dataclass(frozen=True)
class LoadedAdapter:
    name: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)


def _relative_keys(model: Any, name: str) -> dict[str, torch.Tensor]:
    """The adapter's weights keyed by their path in the base model, with the adapter name as ``{name}``."""
    prefix = base_prefix(model)
    out = {}
    for key, param in model.adapter_parameters(name).items():
        key = key[len(prefix) :] if prefix and key.startswith(prefix) else key
        out[rename_adapter_in_key(key, NAME_PLACEHOLDER)] = param.detach().cpu().contiguous()
    return out


def base_prefix(model: Any) -> str:
    base = getattr(model, "base_model", model)
    if base is model:
        return ""
    for module_name, module in model.named_modules():
        if module is base:
            return module_name + "."
    return ""


def save_adapter(model: Any, directory: Path, name: str) -> None:
    config = model.adapter_state.configs[name]
    payload = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "model_type": model.adapter_state.spec.name,
        "config": config.to_dict(),
    }
    write_files(directory, {WEIGHTS_NAME: _relative_keys(model, name), CONFIG_NAME: payload})


def write_files(directory: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write weights (a dict of tensors, as safetensors) and configs (JSON) into ``directory``.

    Every file is written next to the target first and only then moved into place, so a failure leaves the old
    files intact.
    """
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory))
    try:
        for file_name, content in files.items():
            if file_name.endswith(".safetensors"):
                save_file(content, str(staging / file_name), metadata={"format": "pt"})
            else:
                (staging / file_name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        _move_into_place(staging, directory, list(files))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, directory: Path, names: list[str]) -> None:
    """Move the staged files over the targets; if any move fails, put every old file back."""
    backups = staging / ".previous"
    backups.mkdir()
    moved: list[str] = []
    try:
        for name in names:
            if (directory / name).exists():
                os.replace(directory / name, backups / name)
            moved.append(name)
            os.replace(staging / name, directory / name)
    except BaseException:
        for name in moved:
            if (backups / name).exists():
                os.replace(backups / name, directory / name)
            else:
                (directory / name).unlink(missing_ok=True)
        raise


def read_adapter(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The saved config payload and weights, validated; raises ValueError saying what is wrong."""
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ValueError(
                f"cannot load an adapter from {directory}: {path.name} is missing (save it with save_adapter)"
            )
    try:
        payload = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}") from None
    if not isinstance(payload, dict):
        kind = {list: "array", str: "string", type(None): "null"}.get(type(payload), "number")
        raise ValueError(f"{config_path} holds a JSON {kind}, not the object save_adapter writes")
    for key in ("name", "config"):
        if key not in payload:
            raise ValueError(f"{config_path} has no {key!r} entry; was it written by save_adapter?")
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file: {err}") from None
    return payload, weights


def load_adapter(
    model: Any, directory: Path, load_as: str | None, set_active: bool, overwrite_ok: bool
) -> LoadedAdapter:
    payload, weights = read_adapter(directory)
    saved_type, own_type = payload.get("model_type"), model.adapter_state.spec.name
    if saved_type and saved_type != own_type:
        raise ValueError(f"adapter in {directory} was saved from a {saved_type!r} model; this model is {own_type!r}")
    try:
        config = resolve_config(payload["config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{directory / CONFIG_NAME} holds an invalid adapter config: {err}") from None
    name = load_as or payload["name"]
    if name in model.adapter_state.configs and not overwrite_ok:
        raise ValueError(f"an adapter named {name!r} exists already; pass load_as= or overwrite_ok=True")

    previous = _snapshot(model, name)
    active_before = model.adapter_state.active
    try:
        model.add_adapter(name, config, overwrite_ok=True)
        own = _relative_keys(model, name)
        missing = sorted(set(own) - set(weights))
        unexpected = sorted(set(weights) - set(own))
        for key in sorted(set(own) & set(weights)):
            if own[key].shape != weights[key].shape:
                raise ValueError(
                    f"weight {key} in {directory} has shape {tuple(weights[key].shape)}, "
                    f"the model expects {tuple(own[key].shape)}"
                )
        _assign(model, name, {k: weights[k] for k in set(own) & set(weights)})
    except Exception:
        if name in model.adapter_state.configs:
            model.delete_adapter(name)
        if previous is not None:
            _restore(model, name, previous)
        model.adapter_state.active = active_before
        raise
    if set_active:
        model.set_active_adapters(name)
    return LoadedAdapter(name, missing, unexpected)


def _assign(model: Any, name: str, weights: dict[str, torch.Tensor]) -> None:
    prefix = base_prefix(model)
    params = model.adapter_parameters(name)
    with torch.no_grad():
        for key, value in weights.items():
            params[prefix + rename_adapter_in_key(key, name)].copy_(value)


def _snapshot(model: Any, name: str) -> tuple[Any, dict[str, torch.Tensor]] | None:
    if name not in model.adapter_state.configs:
        return None
    tensors = {k: v.clone() for k, v in _relative_keys(model, name).items()}
    return model.adapter_state.configs[name], tensors


def _restore(model: Any, name: str, snapshot: tuple[Any, dict[str, torch.Tensor]]) -> None:
    config, tensors = snapshot
    model.add_adapter(name, config, overwrite_ok=True)
    _assign(model, name, tensors)
