"""Heads on disk, and the whole adapter model on disk. Safetensors and JSON; nothing is ever unpickled.

A head is ``head_config.json`` and ``head.safetensors`` (weights keyed by slot; an output weight tied to the input
embeddings is not written). ``save_adapter(..., with_head=True)`` puts them next to the adapter's files.

A whole model is what transformers writes for the base model (``config.json`` and its weights), one folder per
adapter, fusion and head, ``adapter_setup.json`` (as ``reference_impl.full_model`` writes it) and ``heads.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import full_model
from ..composition import CompositionBlock, Fuse
from ..persistence import CONFIG_NAME as ADAPTER_CONFIG_NAME
from .config import HeadConfig
from .modules import PredictionHead


if TYPE_CHECKING:
    from .model import AdapterModel

HEAD_CONFIG_NAME = "head_config.json"
HEAD_WEIGHTS_NAME = "head.safetensors"
HEADS_NAME = "heads.json"
HEADS_DIR = "heads"
FORMAT_VERSION = 1


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


def _write_atomically(directory: Path, payload: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-head-", dir=directory))
    try:
        save_file(tensors, str(staging / HEAD_WEIGHTS_NAME), metadata={"format": "pt"})
        (staging / HEAD_CONFIG_NAME).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        os.replace(staging / HEAD_WEIGHTS_NAME, directory / HEAD_WEIGHTS_NAME)
        os.replace(staging / HEAD_CONFIG_NAME, directory / HEAD_CONFIG_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_head(model: AdapterModel, directory: Path, name: str) -> None:
    head = model.heads[name]
    payload = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "model_type": model.adapter_state.spec.name,
        "config": head.config.to_dict(),
    }
    tensors = {key: param.detach().cpu().contiguous() for key, param in head.own_parameters().items()}
    _write_atomically(directory, payload, tensors)


def has_head(directory: Path) -> bool:
    return (directory / HEAD_CONFIG_NAME).is_file()


def saved_adapter_name(directory: Path) -> str | None:
    try:
        return json.loads((directory / ADAPTER_CONFIG_NAME).read_text()).get("name")
    except (OSError, ValueError):
        return None


def read_head(model: AdapterModel, directory: Path, load_as: str | None) -> ReadHead:
    """Read, check and build the head saved in ``directory``; raises ValueError saying what is wrong."""
    config_path, weights_path = directory / HEAD_CONFIG_NAME, directory / HEAD_WEIGHTS_NAME
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
    config = HeadConfig.from_dict(payload["config"])
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file: {err}") from None
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
    result = LoadedHead(load_as or payload["name"], sorted(set(own) - set(weights)), sorted(set(weights) - set(own)))
    return ReadHead(result.name, head, result)


# ----- the whole model -----


def save_model(model: AdapterModel, directory: Path) -> None:
    """Base model as transformers writes it, then adapters, fusions and heads, each in its own folder."""
    state = model.adapter_state
    merged = full_model._merged_adapters(model)
    if merged:
        raise ValueError(f"adapter(s) {merged} are merged into the base weights; call reset_adapter first")
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-model-", dir=directory))
    try:
        for name in state.configs:
            model.save_adapter(staging / full_model.ADAPTERS_DIR / name, name, with_head=False)
        fusions = list(state.fusions)
        for index, fusion in enumerate(fusions):
            model.save_adapter_fusion(staging / full_model.FUSIONS_DIR / str(index), fusion)
        for name in model.heads:
            model.save_head(staging / HEADS_DIR / name, name)
        setup = {
            "format_version": FORMAT_VERSION,
            "adapters": list(state.configs),
            "fusions": fusions,
            "active": None if state.active is None else state.active.to_dict(),
        }
        heads = {"format_version": FORMAT_VERSION, "heads": list(model.heads), "active_head": model.active_head}
        (staging / full_model.SETUP_NAME).write_text(json.dumps(setup, indent=2, sort_keys=True) + "\n")
        (staging / HEADS_NAME).write_text(json.dumps(heads, indent=2, sort_keys=True) + "\n")
        base = {key: value for key, value in model.base_model.state_dict().items() if "adapter_site" not in key}
        model.base_model.save_pretrained(staging / "base", state_dict=base)
        for folder in (full_model.ADAPTERS_DIR, full_model.FUSIONS_DIR, HEADS_DIR):
            if (directory / folder).exists():
                shutil.rmtree(directory / folder)
            if (staging / folder).exists():
                os.replace(staging / folder, directory / folder)
        for item in (staging / "base").iterdir():
            os.replace(item, directory / item.name)
        os.replace(staging / full_model.SETUP_NAME, directory / full_model.SETUP_NAME)
        os.replace(staging / HEADS_NAME, directory / HEADS_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    heads = json.loads((directory / HEADS_NAME).read_text())
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


__all__ = ["Fuse", "LoadedHead", "has_head", "load_model", "read_head", "save_head", "save_model"]
