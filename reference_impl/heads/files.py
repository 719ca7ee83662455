"""Heads on disk, and the whole adapter model on disk. Safetensors and JSON; nothing is ever unpickled.

A head is ``head_config.json`` and ``head.safetensors`` (weights keyed by slot; an output weight tied to the input
embeddings is not written). ``save_adapter(..., with_head=True)`` puts them next to the adapter's files.

A whole model is what transformers writes for the base model (``config.json`` and its weights), one folder per
adapter, fusion and head, ``adapter_setup.json`` (as ``reference_impl.full_model`` writes it) and ``heads.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .. import full_model
from ..composition import CompositionBlock, Fuse
from ..folders import check_hashes, missing_folder_message, replacing, write_json, write_tensors
from ..interop import adapterhub, adapterhub_heads
from ..persistence import ADAPTER_FILES, check_format_version, write_adapter, write_folder, write_hub_adapter
from ..persistence import CONFIG_NAME as ADAPTER_CONFIG_NAME
from .config import HeadConfig
from .modules import PredictionHead


if TYPE_CHECKING:
    from .model import AdapterModel

HEAD_CONFIG_NAME = "head_config.json"
HEAD_WEIGHTS_NAME = "head.safetensors"
HEADS_NAME = "heads.json"
HEADS_DIR = "heads"
HEAD_FILES = (HEAD_CONFIG_NAME, HEAD_WEIGHTS_NAME)
FORMAT_VERSION = 1
MODEL_FILES = (*full_model.MODEL_FILES, HEADS_DIR, HEADS_NAME)


@dataclass(frozen=True)
class LoadedHead:
    name: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadHead:
    """A head read from disk and built, not yet part of the model."""

    name: str
    module: PredictionHead
    result: LoadedHead


def save_head(model: AdapterModel, directory: Path, name: str, format: str = "reference") -> None:
    if format == "adapters":
        adapterhub_heads.check_writable(model.heads[name].config, name, model.adapter_state.spec)
    write = write_adapterhub_head if format == "adapters" else write_head
    with replacing(directory, replaces=(*HEAD_FILES, *adapterhub_heads.HEAD_FILES)) as folder:
        write(model, folder, name)


def write_head(model: AdapterModel, folder: Path, name: str) -> None:
    """The head's files, written straight into ``folder`` (a staging folder: see ``reference_impl.folders``)."""
    head = model.heads[name]
    payload = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "model_type": model.adapter_state.spec.name,
        "config": head.config.to_dict(),
    }
    tensors = {key: param.detach().cpu().contiguous() for key, param in head.own_parameters().items()}
    write_folder(folder, {HEAD_WEIGHTS_NAME: tensors, HEAD_CONFIG_NAME: payload})


def save_adapter_with_head(
    model: AdapterModel, directory: Path, name: str, with_head: bool, format: str = "reference"
) -> None:
    """Adapter and head in one save: a folder never holds the adapter of one save and the head of another."""
    head = with_head and name in model.heads
    if head and format == "adapters":
        adapterhub_heads.check_writable(model.heads[name].config, name, model.adapter_state.spec)
    hub = format == "adapters"
    replaces = (*ADAPTER_FILES, *adapterhub.FILES, *HEAD_FILES, *adapterhub_heads.HEAD_FILES)
    with replacing(directory, replaces=replaces) as folder:
        (write_hub_adapter if hub else write_adapter)(model, folder, name)
        if head:
            (write_adapterhub_head if hub else write_head)(model, folder, name)


def has_head(directory: Path) -> bool:
    return (directory / HEAD_CONFIG_NAME).is_file()


def saved_adapter_name(directory: Path) -> str | None:
    try:
        payload = json.loads((directory / ADAPTER_CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return None  # reading the adapter says what is wrong with the file
    name = payload.get("name") if isinstance(payload, dict) else None
    return name if isinstance(name, str) else None


def read_head(model: AdapterModel, directory: Path, load_as: str | None) -> ReadHead:
    """Read, check and build the head saved in ``directory`` (the reference's layout or AdapterHub's); raises
    ValueError saying what is wrong."""
    config_path, weights_path = directory / HEAD_CONFIG_NAME, directory / HEAD_WEIGHTS_NAME
    if not directory.is_dir():
        raise ValueError(f"cannot load a head from {directory}: {missing_folder_message(directory)}")
    if not weights_path.is_file() and adapterhub_heads.is_adapterhub_head(directory):
        return _read_adapterhub_head(model, directory, load_as)
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ValueError(f"cannot load a head from {directory}: {path.name} is missing (save it with save_head)")
    try:
        payload = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}") from None
    if not isinstance(payload, dict) or "config" not in payload or "name" not in payload:
        raise ValueError(f"{config_path} needs 'name' and 'config'; was it written by save_head?")
    saved_type, own_type = payload.get("model_type"), model.adapter_state.spec.name
    if saved_type and saved_type != own_type:
        raise ValueError(f"the head in {directory} was saved from a {saved_type!r} model; this model is {own_type!r}")
    check_format_version(config_path, payload, FORMAT_VERSION)
    config = HeadConfig.from_dict(payload["config"])
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file: {err}") from None
    head, missing = _built_with(model, config, weights, directory)
    check_hashes(config_path, payload.get("sha256"))
    result = LoadedHead(load_as or payload["name"], missing, sorted(set(weights) - set(head.own_parameters())))
    return ReadHead(result.name, head, result)


def _read_adapterhub_head(model: AdapterModel, directory: Path, load_as: str | None) -> ReadHead:
    hub = adapterhub_heads.read_head_folder(directory, model.adapter_state.spec)
    if hub.model_type and hub.model_type != model.config.model_type:
        raise ValueError(
            f"the head in {directory} was saved from a {hub.model_type!r} model; this model is "
            f"{model.config.model_type!r}"
        )
    try:
        config = HeadConfig(**hub.config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{directory / HEAD_CONFIG_NAME}: {err}") from None
    head, missing = _built_with(model, config, hub.tensors, directory)
    result = LoadedHead(load_as or hub.name, missing, hub.unexpected)
    return ReadHead(result.name, head, result)


def _built_with(
    model: AdapterModel, config: HeadConfig, weights: dict[str, torch.Tensor], directory: Path
) -> tuple[PredictionHead, list[str]]:
    """A new head of ``config`` holding ``weights`` (ValueError naming the first that does not fit), and the names of
    its tensors ``weights`` lacks. The model itself is not touched."""
    head = model._build_head(config)
    own = head.own_parameters()
    for key in sorted(set(own) & set(weights)):
        if own[key].shape != weights[key].shape:
            raise ValueError(
                f"head weight {key} in {directory} has shape {tuple(weights[key].shape)}, this model expects "
                f"{tuple(own[key].shape)} (a model of another size?)"
            )
    with torch.no_grad():
        for key in set(own) & set(weights):
            own[key].copy_(weights[key])
    return head, sorted(set(own) - set(weights))


def write_adapterhub_head(model: AdapterModel, folder: Path, name: str) -> None:
    """Head ``name`` in AdapterHub's layout (``head_config.json``, ``model_head.safetensors``), into ``folder``."""
    head = model.heads[name]
    tensors = {key: param.detach().cpu().contiguous() for key, param in head.own_parameters().items()}
    payload, weights = adapterhub_heads.to_hub(head.config, name, model, tensors)
    write_tensors(folder / adapterhub_heads.HEAD_WEIGHTS_NAME, weights)
    write_json(folder / HEAD_CONFIG_NAME, payload)


# ----- the whole model -----


def save_model(model: AdapterModel, directory: Path) -> None:
    """Base model as transformers writes it, then adapters, fusions and heads, each in its own folder."""
    state = model.adapter_state
    merged = full_model._merged_adapters(model)
    if merged:
        raise ValueError(f"adapter(s) {merged} are merged into the base weights; call reset_adapter first")
    with replacing(directory, replaces=MODEL_FILES) as staging:
        for name in state.configs:
            write_adapter(model, _folder(staging / full_model.ADAPTERS_DIR / name), name)
        fusions = list(state.fusions)
        for index, fusion in enumerate(fusions):
            model.save_adapter_fusion(staging / full_model.FUSIONS_DIR / str(index), fusion)
        for name in model.heads:
            write_head(model, _folder(staging / HEADS_DIR / name), name)
        setup = {
            "format_version": FORMAT_VERSION,
            "adapters": list(state.configs),
            "fusions": fusions,
            "active": None if state.active is None else state.active.to_dict(),
        }
        heads = {"format_version": FORMAT_VERSION, "heads": list(model.heads), "active_head": model.active_head}
        write_json(staging / full_model.SETUP_NAME, setup)
        write_json(staging / HEADS_NAME, heads)
        base = {key: value for key, value in model.base_model.state_dict().items() if "adapter_site" not in key}
        model.base_model.save_pretrained(staging, state_dict=base)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def load_model(directory: Path, spec: Any, head_name: str) -> AdapterModel:
    """An adapter model from ``save_model``'s folder, or from a transformers checkpoint of any class of a registered
    architecture (a static head class's head becomes head ``head_name``)."""
    import transformers

    from architectures.live import model_class

    from .conversion import from_static
    from .model import AdapterModel, spec_for

    if not (directory / "config.json").is_file():
        raise ValueError(f"cannot load a model from {directory}: config.json is missing")
    config = transformers.AutoConfig.from_pretrained(directory)
    spec = spec or spec_for(config)
    base_class = model_class(spec)
    if not (directory / HEADS_NAME).is_file():
        class_name = (getattr(config, "architectures", None) or [base_class.__name__])[0]
        cls = getattr(transformers, class_name, None)
        if cls is None:
            raise ValueError(f"{directory}/config.json names {class_name!r}, which transformers does not have")
        if cls is base_class:
            return AdapterModel(config, spec, base_model=cls.from_pretrained(directory))
        return from_static(cls.from_pretrained(directory), head_name, spec)
    setup = full_model.read_setup(directory)
    heads = _read_heads(directory / HEADS_NAME)
    model = AdapterModel(config, spec, base_model=base_class.from_pretrained(directory))
    for name in setup["adapters"]:
        model.load_adapter(directory / full_model.ADAPTERS_DIR / name, load_as=name, with_head=False)
    for index, _ in enumerate(setup["fusions"]):
        model.load_adapter_fusion(directory / full_model.FUSIONS_DIR / str(index))
    for name in heads["heads"]:
        model.load_head(directory / HEADS_DIR / name, load_as=name, set_active=False)
    active = setup["active"]
    model.set_active_adapters(None if active is None else CompositionBlock.from_dict(active))
    model.active_head = heads.get("active_head")
    return model


def _read_heads(path: Path) -> dict[str, Any]:
    try:
        heads = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(heads, dict) or not isinstance(heads.get("heads"), list):
        raise ValueError(f"{path} needs a 'heads' list; was it written by save_pretrained?")
    check_format_version(path, heads, FORMAT_VERSION)
    return heads


__all__ = ["Fuse", "LoadedHead", "has_head", "load_model", "read_head", "save_head", "save_model"]
