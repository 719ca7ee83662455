"""AdapterHub ``adapters`` prediction heads on disk: ``head_config.json`` with ``model_head.safetensors`` (or the pickle
``pytorch_model_head.bin``), read into and written from the reference's heads.

AdapterHub builds such a head as one Sequential: per layer a Dropout and a Linear, and after each hidden Linear its
activation (none when ``activation_function`` is None); its weights are ``heads.<name>.<index>.{weight,bias}``. The
Linear layers are the reference's ``hidden.<i>`` and ``output``. Converted are the head types whose AdapterHub module is
only that Sequential; LM heads (their own layer norms, a tied decoder) are refused, saying what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from architectures.heads import default_pooling

from .adapterhub import VERSION, read_payload, read_tensors


HEAD_CONFIG_NAME = "head_config.json"
HEAD_WEIGHTS_NAME = "model_head.safetensors"
HEAD_PICKLE_NAME = "pytorch_model_head.bin"
HEAD_FILES = (HEAD_CONFIG_NAME, HEAD_WEIGHTS_NAME, HEAD_PICKLE_NAME)
# head type -> the fields of AdapterHub's head config besides head_type, layers, activation_function, label2id and
# dropout_prob (adapters 1.3, heads/base.py)
CONVERTED: dict[str, frozenset[str]] = {
    "classification": frozenset({"num_labels", "use_pooler", "bias"}),
    "multilabel_classification": frozenset({"num_labels", "use_pooler", "bias"}),
    "image_classification": frozenset({"num_labels", "use_pooler", "bias", "multilabel"}),
    "tagging": frozenset({"num_labels"}),
    "multiple_choice": frozenset({"num_choices", "use_pooler"}),
    "question_answering": frozenset({"num_labels"}),
}
_COMMON = frozenset({"head_type", "layers", "activation_function", "label2id", "dropout_prob"})
_LABELLED = ("classification", "multilabel_classification", "image_classification", "tagging")


def is_adapterhub_head(directory: Path) -> bool:
    """A head folder in AdapterHub's layout (its weights file names, not the reference's ``head.safetensors``)."""
    return any((directory / name).is_file() for name in (HEAD_WEIGHTS_NAME, HEAD_PICKLE_NAME))


@dataclass(frozen=True)
class HubHead:
    name: str
    config: dict[str, Any]  # the reference's HeadConfig fields
    model_type: str | None
    tensors: dict[str, torch.Tensor]  # under the reference's keys (hidden.<i>.*, output.*)
    unexpected: list[str]  # AdapterHub keys nothing reads


def read_head_folder(directory: Path, spec: Any) -> HubHead:
    """The head AdapterHub saved in ``directory``, as the reference's config and weights; ValueError saying what is
    wrong (nothing of the model is touched here)."""
    path = directory / HEAD_CONFIG_NAME
    payload = read_payload(path, "head")
    hub = payload["config"]
    if not isinstance(hub, dict):
        raise ValueError(f"{path}: 'config' is not an object")
    try:
        config = to_reference(hub, spec)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    tensors = read_tensors(directory, HEAD_WEIGHTS_NAME, HEAD_PICKLE_NAME)
    prefix = f"heads.{payload['name']}."
    keys = own_keys(config["layers"], hub.get("activation_function"))
    own, unexpected = {}, []
    for key, value in tensors.items():
        # AdapterHub 1.3 saves every head whose name starts with this one's ("m" saves "ml" too): not this head's
        index, _, tensor = key.removeprefix(prefix).partition(".") if key.startswith(prefix) else ("", "", "")
        if index in keys and tensor in ("weight", "bias"):
            own[f"{keys[index]}.{tensor}"] = value
        else:
            unexpected.append(key)
    return HubHead(payload["name"], config, payload.get("model_type"), own, sorted(unexpected))


def to_reference(hub: dict[str, Any], spec: Any) -> dict[str, Any]:
    """AdapterHub's head config as the reference's HeadConfig fields; ValueError for what the reference cannot build."""
    head_type = hub.get("head_type")
    if head_type not in CONVERTED:
        raise ValueError(
            f"AdapterHub head type {head_type!r} is not converted (converted: {', '.join(CONVERTED)}); load the "
            "adapter alone (with_head=False) and add a head of the reference"
        )
    extra = set(hub) - _COMMON - CONVERTED[head_type]
    if extra:
        raise ValueError(f"the {head_type} head has fields the reference does not know: {sorted(extra)}")
    layers = hub.get("layers", 1)
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers={layers!r}: a head has at least one layer")
    activation = hub.get("activation_function")
    if activation is not None and activation.lower() == "leakyrelu":
        raise ValueError("activation_function='leakyrelu' is not converted (transformers has no such activation)")
    use_pooler = bool(hub.get("use_pooler", False))
    config: dict[str, Any] = {
        "head_type": "multilabel_classification" if hub.get("multilabel") else head_type,
        "layers": layers,
        "activation": (activation or "linear").lower() if layers > 1 else None,
        "use_pooler": use_pooler,
        "pooling": _pooling(head_type, use_pooler, spec),
        "bias": bool(hub.get("bias", True)),
        "dropout": hub.get("dropout_prob"),
    }
    if head_type == "image_classification" and hub.get("multilabel"):
        raise ValueError("a multilabel image classification head is not converted")
    if head_type in _LABELLED:
        config["num_labels"] = hub.get("num_labels")
        label2id = hub.get("label2id")
        if isinstance(label2id, dict):
            config["id2label"] = {int(i): label for label, i in label2id.items()}
    elif head_type == "question_answering" and hub.get("num_labels", 2) != 2:
        raise ValueError(f"a question answering head with num_labels={hub['num_labels']} (start and end: 2)")
    return config


def _pooling(head_type: str, use_pooler: bool, spec: Any) -> str | None:
    """The position AdapterHub's head reads, in the reference's terms: the family's pooling for a sequence head that
    does not read the pooler (token heads read every position)."""
    return None if use_pooler or head_type in ("tagging", "question_answering") else default_pooling(spec)


def own_keys(layers: int, activation: str | None) -> dict[str, str]:
    """AdapterHub's Sequential index of each Linear -> the reference's module name."""
    keys, index = {}, 0
    for layer in range(layers):
        index += 1  # the Dropout before each Linear
        keys[str(index)] = "output" if layer == layers - 1 else f"hidden.{layer}"
        index += 2 if activation is not None and layer < layers - 1 else 1
    return keys


def check_writable(config: Any, name: str, spec: Any) -> None:
    """ValueError for a reference head AdapterHub's layout cannot hold (before anything is written)."""
    if config.head_type not in CONVERTED or config.head_type == "image_classification":
        converted = ", ".join(t for t in CONVERTED if t != "image_classification")
        raise ValueError(f"a {config.head_type} head is not written in AdapterHub's layout (written: {converted})")
    unsupported = {
        "layer_norm": config.layer_norm,
        "hidden_bias": not config.hidden_bias,
        "tie_output": config.tie_output,
        "scale_hidden": config.scale_hidden,
        "pooling": config.pooling != _pooling(config.head_type, config.use_pooler, spec),
        "bias": not config.bias and config.head_type not in ("classification", "multilabel_classification"),
    }
    if any(unsupported.values()):
        raise ValueError(
            f"head {name!r} uses {[k for k, v in unsupported.items() if v]}, which AdapterHub's heads do not have: "
            "save it in the reference's layout"
        )


def to_hub(config: Any, name: str, model: Any, tensors: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """(head_config.json's payload, the weights under AdapterHub's keys) for a reference head; ValueError for a head
    AdapterHub's layout cannot hold."""
    check_writable(config, name, model.adapter_state.spec)
    activation = config.activation if config.layers > 1 else "tanh"  # AdapterHub's default, unused with one layer
    hub: dict[str, Any] = {
        "head_type": config.head_type,
        "layers": config.layers,
        "activation_function": None if activation == "linear" else activation,
        "dropout_prob": config.dropout,
        "label2id": None if config.id2label is None else {label: i for i, label in config.id2label.items()},
    }
    if config.head_type in ("classification", "multilabel_classification"):
        hub.update(num_labels=config.num_labels, use_pooler=config.use_pooler, bias=config.bias)
    elif config.head_type == "tagging":
        hub.update(num_labels=config.num_labels)
    elif config.head_type == "multiple_choice":
        hub.update(num_choices=2, use_pooler=config.use_pooler)  # unused by AdapterHub's forward
    else:
        hub.update(num_labels=2)
    payload = {
        "config": hub,
        "hidden_size": model.config.hidden_size,
        "model_class": type(model).__name__,
        "model_name": "",
        "model_type": model.config.model_type,
        "name": name,
        "version": VERSION,
    }
    keys = {own: index for index, own in own_keys(config.layers, hub["activation_function"]).items()}
    weights = {}
    for key, value in tensors.items():
        module, _, tensor = key.rpartition(".")
        weights[f"heads.{name}.{keys[module]}.{tensor}"] = value
    return payload, weights
