"""A whole model with its adapters: ``save_pretrained`` and ``load_model``. Safetensors and JSON; nothing is unpickled.

The directory is what transformers writes (``config.json`` and the base weights, without any adapter weight), plus
one folder per adapter and per fusion, as ``save_adapter`` / ``save_adapter_fusion`` write them, and
``adapter_setup.json``: which adapters and fusions there are, and the active setup. The adapter folders live under
``adapters/``, never at the top level: transformers takes a top-level ``adapter_config.json`` for a PEFT adapter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .composition import CompositionBlock
from .folders import check_hashes, missing_folder_message, replacing, write_json
from .persistence import CONFIG_NAME, check_format_version, read_adapter
from .sites import adapter_name_in_key, sites


SETUP_NAME = "adapter_setup.json"
ADAPTERS_DIR = "adapters"
FUSIONS_DIR = "adapter_fusions"
FORMAT_VERSION = 1
# what a model save writes, so a new save drops what an older one left; anything else (a tokenizer) is kept
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    ADAPTERS_DIR,
    FUSIONS_DIR,
    SETUP_NAME,
)


def save_pretrained(model: Any, directory: Path, save_base: Callable[..., Any], **kwargs: Any) -> None:
    """Save the base model with ``save_base`` (transformers' ``save_pretrained``), then every adapter and fusion."""
    if kwargs.get("safe_serialization", True) is not True:
        raise ValueError("save_pretrained writes safetensors only; drop safe_serialization=False")
    kwargs.pop("safe_serialization", None)  # transformers 5 has no such argument: it always writes safetensors
    merged = _merged_adapters(model)
    if merged:
        raise ValueError(
            f"adapter(s) {merged} are merged into the base weights, which would then be saved with them; "
            "call reset_adapter first, or delete_adapter to keep the merged weights as the new base model"
        )
    state = kwargs.pop("state_dict", None) or model.state_dict()
    base_state = {key: value for key, value in state.items() if adapter_name_in_key(key) is None}
    state_ = model.adapter_state
    fusions = list(getattr(state_, "fusions", {}))
    setup = {
        "format_version": FORMAT_VERSION,
        "adapters": list(state_.configs),
        "fusions": fusions,
        "active": None if state_.active is None else state_.active.to_dict(),
    }
    with replacing(directory, replaces=MODEL_FILES) as staging:
        for name in state_.configs:
            model.save_adapter(staging / ADAPTERS_DIR / name, name)
        for index, fusion in enumerate(fusions):
            model.save_adapter_fusion(staging / FUSIONS_DIR / str(index), fusion)
        write_json(staging / SETUP_NAME, setup)
        save_base(staging, state_dict=base_state, **kwargs)


def load_model(
    directory: str | Path,
    model_class: type | str,
    spec: Any = None,
    output_loading_info: bool = False,
    **kwargs: Any,
) -> Any:
    """A ``model_class`` from ``directory`` (as ``save_pretrained`` wrote it) with its adapters, fusions and setup.

    ``model_class`` is the transformers class (or its name) the model was saved from. Returns the model, or with
    ``output_loading_info`` the model and a dict of missing and unexpected keys (base and adapter weights). A failed
    load raises ValueError and leaves nothing behind: no model is returned and no class is changed.
    """
    from .model import init

    directory = Path(directory)
    setup = read_setup(directory)
    model_class = _transformers_class(model_class)
    if kwargs.get("use_safetensors", True) is not True:
        raise ValueError("load_model reads safetensors only; drop use_safetensors=False")
    kwargs["use_safetensors"] = True
    model, info = model_class.from_pretrained(directory, output_loading_info=True, **kwargs)
    model = init(model, spec)
    missing = _untied(model, info.get("missing_keys", ()))
    unexpected = sorted(info.get("unexpected_keys", ()))
    for name in setup["adapters"]:
        loaded = model.load_adapter(directory / ADAPTERS_DIR / name, load_as=name)
        missing += [f"{ADAPTERS_DIR}/{name}: {key}" for key in loaded.missing_keys]
        unexpected += [f"{ADAPTERS_DIR}/{name}: {key}" for key in loaded.unexpected_keys]
    for index, _ in enumerate(setup["fusions"]):
        model.load_adapter_fusion(directory / FUSIONS_DIR / str(index))
    active = setup["active"]
    model.set_active_adapters(None if active is None else CompositionBlock.from_dict(active))
    if not output_loading_info:
        return model
    mismatched = list(info.get("mismatched_keys", ()))
    return model, {"missing_keys": missing, "unexpected_keys": unexpected, "mismatched_keys": mismatched}


def _untied(model: Any, missing: Any) -> list[str]:
    """The missing keys but those tied to a loaded weight (the same tensor): transformers 4.x reports LongT5's
    encoder/decoder ``embed_tokens`` missing from its own save, then ties them to ``shared``; they are restored."""
    state = model.state_dict(keep_vars=True)
    missing = set(missing)
    loaded = {id(value) for key, value in state.items() if key not in missing}
    return sorted(key for key in missing if key not in state or id(state[key]) not in loaded)


def read_setup(directory: Path) -> dict[str, Any]:
    """The saved adapter setup, validated; a directory without one is a plain transformers save (no adapters)."""
    path = directory / SETUP_NAME
    if not directory.is_dir():
        raise ValueError(f"cannot load a model from {directory}: {missing_folder_message(directory)}")
    if not any(directory.glob("*.safetensors")) and not any(directory.glob("*.safetensors.index.json")):
        raise ValueError(
            f"no safetensors weights in {directory}: models are loaded from safetensors only, never from pickles "
            "(.bin); save the model with save_pretrained"
        )
    if not path.is_file():
        return {"adapters": [], "fusions": [], "active": None}
    try:
        setup = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(setup, dict) or not all(key in setup for key in ("adapters", "fusions", "active")):
        raise ValueError(f"{path} needs 'adapters', 'fusions' and 'active'; was it written by save_pretrained?")
    check_format_version(path, setup, FORMAT_VERSION)
    for name in setup["adapters"]:
        if not (directory / ADAPTERS_DIR / name).is_dir():
            raise ValueError(f"{path} lists adapter {name!r}, but {directory / ADAPTERS_DIR / name} is missing")
        # unreadable or mixed files fail now, before any model is built
        payload, _ = read_adapter(directory / ADAPTERS_DIR / name)
        check_hashes(directory / ADAPTERS_DIR / name / CONFIG_NAME, payload.get("sha256"))
    return setup


def _transformers_class(model_class: type | str) -> type:
    if isinstance(model_class, str):
        import transformers

        found = getattr(transformers, model_class, None)
        if found is None:
            raise ValueError(f"transformers {transformers.__version__} has no class {model_class!r}")
        return found
    # the class init() made for an adapter model: load through the transformers class it extends
    return getattr(model_class, "transformers_class", model_class)


def _merged_adapters(model: Any) -> list[str]:
    return sorted(
        {
            name
            for _, site in sites(model)
            for family in site.values()
            for name, adapter in family.items()
            if getattr(adapter, "merged", False)
        }
    )
