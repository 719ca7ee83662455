"""Saving and loading single adapters: config as JSON, weights as safetensors. Nothing is ever unpickled."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from architectures.live import base_model as live_base_model

from .configs import resolve_config
from .folders import check_hashes, missing_folder_message, replacing, write_json, write_tensors
from .interop import adapterhub, adapterhub_models
from .sites import rename_adapter_in_key
from .snapshot import AdapterSnapshot


CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
FORMAT_VERSION = 1
ADAPTER_FILES = (CONFIG_NAME, WEIGHTS_NAME)
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
    base = live_base_model(model)
    if base is model:
        return ""
    for module_name, module in model.named_modules():
        if module is base:
            return module_name + "."
    return ""


FORMATS = ("reference", "adapters")  # the reference's own layout; AdapterHub's (reference_impl.interop.adapterhub)


def save_adapter(model: Any, directory: Path, name: str, format: str = "reference") -> None:
    check_format(format)
    # a save replaces both layouts' files: they share adapter_config.json, so a leftover would mix two saves
    with replacing(directory, replaces=(*ADAPTER_FILES, *adapterhub.FILES)) as folder:
        if format == "adapters":
            write_hub_adapter(model, folder, name)
        else:
            write_adapter(model, folder, name)


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {format!r}")


def write_hub_adapter(model: Any, folder: Path, name: str) -> None:
    """The adapter in AdapterHub's layout (its config translated first: an unsupported one writes nothing)."""
    payload = adapterhub.hub_config(model, name, model.adapter_state.configs[name])
    write_tensors(folder / adapterhub.WEIGHTS_NAME, adapterhub.to_hub(model, name, _relative_keys(model, name)))
    write_json(folder / adapterhub.CONFIG_NAME, payload)


def write_adapter(model: Any, folder: Path, name: str) -> None:
    """The adapter's files, written straight into ``folder`` (a staging folder: see ``reference_impl.folders``)."""
    config = model.adapter_state.configs[name]
    payload = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "model_type": model.adapter_state.spec.name,
        "config": config.to_dict(),
    }
    write_folder(folder, {WEIGHTS_NAME: _relative_keys(model, name), CONFIG_NAME: payload})


def write_files(directory: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write weights (a dict of tensors, as safetensors) and configs (JSON) as ``directory``, in one step: a failure
    or a kill at any point leaves the old folder as it was (see ``reference_impl.folders``)."""
    with replacing(directory, replaces=list(files)) as folder:
        write_folder(folder, files)


def write_folder(folder: Path, files: dict[str, dict[str, Any]]) -> None:
    """Weights first, then each JSON file with the sha256 of the weights, so loading can tell a mixed folder."""
    hashes = {name: write_tensors(folder / name, content) for name, content in files.items() if _is_weights(name)}
    for file_name, content in files.items():
        if not _is_weights(file_name):
            write_json(folder / file_name, {**content, "sha256": hashes})


def _is_weights(file_name: str) -> bool:
    return file_name.endswith(".safetensors")


def check_format_version(path: Path, payload: dict[str, Any], supported: int) -> None:
    """Refuse a file written by a newer version of this package, which this one may misread."""
    version = payload.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: format_version must be a positive integer, got {version!r}")
    if version > supported:
        raise ValueError(
            f"{path} has format_version {version}; this version of reference_impl reads up to {supported}: "
            "upgrade reference_impl to load it"
        )


# The entries of adapter_config.json (write_adapter, and write_folder's hashes).
ADAPTER_CONFIG_KEYS = frozenset({"format_version", "name", "model_type", "config", "sha256"})


def read_adapter(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The saved config payload and weights, validated; raises ValueError saying what is wrong."""
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    if not directory.is_dir():
        raise ValueError(f"cannot load an adapter from {directory}: {missing_folder_message(directory)}")
    for path in (config_path, weights_path):
        if not path.is_file():
            pickles = sorted(p.name for p in directory.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl"))
            found = f"; {', '.join(pickles)} is never read (a pickle can run code)" if pickles else ""
            raise ValueError(
                f"cannot load an adapter from {directory}: {path.name} is missing{found} (save it with save_adapter)"
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
    check_format_version(config_path, payload, FORMAT_VERSION)
    unknown = sorted(set(payload) - ADAPTER_CONFIG_KEYS)
    if unknown:  # a key this version does not know might change what the adapter means: said, not ignored
        raise ValueError(
            f"{config_path} has unknown key(s) {unknown}; save_adapter writes {sorted(ADAPTER_CONFIG_KEYS)}: remove "
            "them, or load it with the version of reference_impl that wrote it"
        )
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file: {err}") from None
    return payload, weights


def load_adapter(
    model: Any, directory: Path, load_as: str | None, set_active: bool, overwrite_ok: bool
) -> LoadedAdapter:
    if directory.is_dir() and adapterhub.is_adapterhub_folder(directory, WEIGHTS_NAME):
        hub = adapterhub.read_folder(directory)
        _check_model_type(directory, hub.model_type, model)

        def translated(own: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
            return adapterhub.to_own(model, hub, own)

        config = adapterhub_models.swap_ffn_lora(hub.config, model.adapter_state.spec.name)
        return _install(model, directory, load_as or hub.name, config, set_active, overwrite_ok, translated, None)
    payload, weights = read_adapter(directory)
    _check_model_type(directory, payload.get("model_type"), model)
    try:
        config = resolve_config(payload["config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{directory / CONFIG_NAME} holds an invalid adapter config: {err}") from None

    def matched(own: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
        return {k: weights[k] for k in set(own) & set(weights)}, sorted(set(weights) - set(own))

    def hashes() -> None:  # after the shape check, which says more when the weights are of another model
        check_hashes(directory / CONFIG_NAME, payload.get("sha256"))

    return _install(model, directory, load_as or payload["name"], config, set_active, overwrite_ok, matched, hashes)


def _check_model_type(directory: Path, saved_type: Any, model: Any) -> None:
    own_type = model.adapter_state.spec.name
    if saved_type and saved_type != own_type:
        raise ValueError(f"adapter in {directory} was saved from a {saved_type!r} model; this model is {own_type!r}")


def _install(
    model: Any,
    directory: Path,
    name: str,
    config: Any,
    set_active: bool,
    overwrite_ok: bool,
    match: Callable[[dict[str, torch.Tensor]], tuple[dict[str, torch.Tensor], list[str]]],
    check_files: Callable[[], None] | None,
) -> LoadedAdapter:
    """Add adapter ``name`` and give it the saved weights ``match`` finds for its own keys; on any failure the model
    is as it was (the adapter it replaces comes back)."""
    if name in model.adapter_state.configs and not overwrite_ok:
        raise ValueError(f"an adapter named {name!r} exists already; pass load_as= or overwrite_ok=True")

    previous = AdapterSnapshot.take(model, name) if name in model.adapter_state.configs else None
    active_before = model.adapter_state.active
    added = False  # add_adapter puts the previous adapter back itself when it fails
    try:
        model.add_adapter(name, config, overwrite_ok=True)
        added = True
        own = _relative_keys(model, name)
        weights, unexpected = match(own)
        missing = sorted(set(own) - set(weights))
        for key in sorted(weights):
            if own[key].shape != weights[key].shape:
                raise ValueError(
                    f"weight {key} in {directory} has shape {tuple(weights[key].shape)}, "
                    f"the model expects {tuple(own[key].shape)} (saved from a model of another size?)"
                )
        if check_files is not None:
            check_files()
        _assign(model, name, weights)
    except BaseException:
        if added:
            model.delete_adapter(name)
            if previous is not None:
                previous.restore(model)
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
