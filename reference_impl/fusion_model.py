"""The AdapterFusion part of the model API: add, delete, train, save and load fusions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .composition import Fuse, Stack, parse_composition
from .folders import check_hashes, missing_folder_message
from .fusion import Fusion, FusionConfig, resolve_fusion_config
from .persistence import FORMAT_VERSION, base_prefix, check_format_version, write_files
from .sites import FUSION, sites


FUSION_CONFIG_NAME = "adapter_fusion_config.json"
FUSION_WEIGHTS_NAME = "adapter_fusion.safetensors"


def _fuse_block(fusion: Any) -> Fuse:
    if isinstance(fusion, Fuse):
        return fusion
    names = fusion.split(",") if isinstance(fusion, str) else list(fusion)
    return Fuse(*[n.strip() for n in names])


class FusionMixin:
    def add_adapter_fusion(
        self,
        adapter_names: Fuse | list[str] | str,
        config: str | dict | FusionConfig = "dynamic",
        overwrite_ok: bool = False,
        set_active: bool = False,
    ) -> None:
        """Add an AdapterFusion over ``adapter_names`` at every adapter layer where one of them has a module."""
        fuse = _fuse_block(adapter_names)
        config = resolve_fusion_config(config)
        if len(fuse) < 2:
            raise ValueError(f"{fuse!r}: a fusion needs at least two adapters")
        for name in fuse.flatten():
            self._require(name)
        if fuse.name in self.adapter_state.fusions:
            if not overwrite_ok:
                raise ValueError(f"a fusion {fuse.name!r} exists already; pass overwrite_ok=True to replace it")
            self.delete_adapter_fusion(fuse)
        # The blocks the fused adapters support are checked before anything is built.
        self.adapter_state.fusions[fuse.name] = config
        try:
            self._checked_setup(Stack(fuse))
        except ValueError:
            del self.adapter_state.fusions[fuse.name]
            raise
        device = next(self.parameters()).device
        names = set(fuse.flatten())
        for _, site in sites(self):
            if site.layer_index < 0:
                continue  # a model-level holder of shared weights, not an adapter layer: nothing to fuse there
            if any(name in family for key, family in site.items() if key != FUSION for name in names):
                site.family(FUSION)[fuse.name] = Fusion(config, self.adapter_state.hidden_size).to(device)
        if set_active:
            self.set_active_adapters(fuse)

    def delete_adapter_fusion(self, adapter_names: Fuse | list[str] | str) -> None:
        fuse = _fuse_block(adapter_names)
        if fuse.name not in self.adapter_state.fusions:
            raise ValueError(f"no fusion {fuse.name!r}; fusions of this model: {sorted(self.adapter_state.fusions)}")
        for _, site in sites(self):
            site.remove(fuse.name)
        del self.adapter_state.fusions[fuse.name]
        active = self.adapter_state.active
        if active is not None and any(isinstance(b, Fuse) and b.name == fuse.name for b in _walk(active)):
            self.adapter_state.active = None

    def fusion_parameters(self, adapter_names: Fuse | list[str] | str) -> dict[str, torch.nn.Parameter]:
        fuse = _fuse_block(adapter_names)
        marker = f".{FUSION}.{fuse.name}."
        return {key: param for key, param in self.named_parameters() if marker in key}

    def train_adapter_fusion(self, adapter_setup: Any, unfreeze_adapters: bool = False) -> None:
        """Train the fusion layers of ``adapter_setup`` (and the fused adapters only if ``unfreeze_adapters``)."""
        setup = self._checked_setup(adapter_setup)
        fusions = [b for b in _walk(setup) if isinstance(b, Fuse)]
        if not fusions:
            raise ValueError(f"{adapter_setup!r} holds no Fuse block to train")
        self.freeze_model(True)
        for fuse in fusions:
            for param in self.fusion_parameters(fuse).values():
                param.requires_grad_(True)
        if unfreeze_adapters:
            for name in setup.flatten():
                for param in self.adapter_parameters(name).values():
                    param.requires_grad_(True)
        self.adapter_state.active = setup
        self.train()

    def get_fusion_regularization_loss(self) -> torch.Tensor:
        loss = torch.zeros((), device=next(self.parameters()).device)
        for _, site in sites(self):
            if FUSION in site:
                for name, fusion in site[FUSION].items():
                    if self.adapter_state.fusions[name].regularization:
                        loss = loss + fusion.regularization_loss()
        return loss

    def save_adapter_fusion(self, save_directory: str | Path, adapter_names: Fuse | list[str] | str) -> None:
        """Write the fusion layers of ``adapter_names`` (not the adapters) to ``save_directory``."""
        fuse = _fuse_block(adapter_names)
        if fuse.name not in self.adapter_state.fusions:
            raise ValueError(f"no fusion {fuse.name!r} to save")
        payload = {
            "format_version": FORMAT_VERSION,
            "model_type": self.adapter_state.spec.name,
            "adapters": list(fuse.flatten()),
            "config": self.adapter_state.fusions[fuse.name].to_dict(),
        }
        prefix = base_prefix(self)
        tensors = {
            k.removeprefix(prefix): v.detach().cpu().contiguous() for k, v in self.fusion_parameters(fuse).items()
        }
        write_files(Path(save_directory), {FUSION_WEIGHTS_NAME: tensors, FUSION_CONFIG_NAME: payload})

    def load_adapter_fusion(self, load_directory: str | Path, set_active: bool = False) -> Fuse:
        """Load fusion layers saved by ``save_adapter_fusion``; the fused adapters must be in the model already."""
        directory = Path(load_directory)
        payload, weights = _read_fusion(directory, self.adapter_state.spec.name)
        fuse = Fuse(*payload["adapters"])
        existed = fuse.name in self.adapter_state.fusions
        if existed:
            raise ValueError(f"a fusion {fuse.name!r} exists already; delete it first")
        try:
            self.add_adapter_fusion(fuse, payload["config"])
        except (ValueError, TypeError) as err:
            raise type(err)(f"cannot load the fusion in {directory}: {err}") from None
        prefix = base_prefix(self)
        params = self.fusion_parameters(fuse)
        expected = {k.removeprefix(prefix) for k in params}
        wrong_shape = sorted(k for k in expected & set(weights) if params[prefix + k].shape != weights[k].shape)
        if expected != set(weights) or wrong_shape:
            self.delete_adapter_fusion(fuse)
            if wrong_shape:
                key = wrong_shape[0]
                raise ValueError(
                    f"fusion weight {key} in {directory} has shape {tuple(weights[key].shape)}, the model expects "
                    f"{tuple(params[prefix + key].shape)} (saved from a model of another size?)"
                )
            raise ValueError(
                f"fusion weights in {directory} do not fit this model: missing {sorted(expected - set(weights))[:3]}, "
                f"unexpected {sorted(set(weights) - expected)[:3]}"
            )
        with torch.no_grad():
            for key, value in weights.items():
                params[prefix + key].copy_(value)
        if set_active:
            self.set_active_adapters(fuse)
        return fuse


def _read_fusion(directory: Path, own_type: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The saved fusion payload and weights, validated; raises ValueError saying what is wrong and what to do."""
    config_path, weights_path = directory / FUSION_CONFIG_NAME, directory / FUSION_WEIGHTS_NAME
    where = f"cannot load an adapter fusion from {directory}"
    if not directory.is_dir():
        raise ValueError(f"{where}: {missing_folder_message(directory)}")
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ValueError(f"{where}: {path.name} is missing (save it with save_adapter_fusion)")
    try:
        payload = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}") from None
    adapters = payload.get("adapters") if isinstance(payload, dict) else None
    if not isinstance(adapters, list) or not all(isinstance(a, str) for a in adapters) or "config" not in payload:
        raise ValueError(
            f"{config_path} needs 'adapters' (a list of names) and 'config'; was it written by save_adapter_fusion?"
        )
    check_format_version(config_path, payload, FORMAT_VERSION)
    saved_type = payload.get("model_type")
    if saved_type and saved_type != own_type:
        raise ValueError(
            f"the fusion in {directory} was saved from a {saved_type!r} model; this model is {own_type!r}"
        )
    check_hashes(config_path, payload.get("sha256"))
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file: {err}") from None
    return payload, weights


def _walk(block: Any) -> list[Any]:
    found = [block]
    for child in block:
        if not isinstance(child, str):
            found += _walk(child)
    return found


__all__ = ["FusionMixin", "parse_composition"]
