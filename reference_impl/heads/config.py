"""The config of one flexible prediction head: a frozen dataclass with cross-field checks and a JSON round trip."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from architectures.heads import HEAD_TYPES, LABELLED_HEADS, LM_HEADS, POOLINGS, SEQUENCE_HEADS


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"HeadConfig: {message}")


@dataclass(frozen=True)
class HeadConfig:
    """What a head predicts and how it is built.

    ``layers`` counts the head's Linear layers: ``layers - 1`` hidden ones (each followed by ``activation`` and, with
    ``layer_norm``, a LayerNorm), then the output layer; ``bias``, ``hidden_bias`` and ``norm_bias`` say which of them
    carry biases. ``pooling`` says which position a sequence head reads
    (``first``, ``last`` non-padding token, last ``eos``) unless ``use_pooler`` reads the base model's pooler.
    ``tie_output`` shares the output weight with the input embeddings (LM heads); ``scale_hidden`` multiplies the
    hidden state by ``hidden_size ** -0.5`` before the output layer (T5). ``multilabel`` makes a classifier predict
    independent labels (binary cross-entropy). ``id2label`` names the labels of classification and tagging heads.
    """

    head_type: str
    num_labels: int | None = None
    layers: int = 1
    activation: str | None = None
    layer_norm: bool = False
    norm_eps: float | None = None
    bias: bool = True
    hidden_bias: bool = True  # the hidden layers' biases (ModernBERT's classifier_bias)
    norm_bias: bool = True  # the LayerNorms' biases (ModernBERT's norm_bias)
    use_pooler: bool = False
    pooling: str | None = None
    tie_output: bool = False
    scale_hidden: bool = False
    multilabel: bool = False
    dropout: float | None = None  # None: the model config's classifier / hidden dropout
    id2label: Mapping[int, str] | None = None

    def __post_init__(self) -> None:
        _check(self.head_type in HEAD_TYPES, f"head_type={self.head_type!r}; expected one of {', '.join(HEAD_TYPES)}")
        if self.head_type == "multilabel_classification":
            object.__setattr__(self, "multilabel", True)
        labelled = self.head_type in LABELLED_HEADS
        if labelled and self.id2label is not None and self.num_labels is None:
            object.__setattr__(self, "num_labels", len(self.id2label))
        if labelled and self.num_labels is None:
            object.__setattr__(self, "num_labels", 2)
        if labelled:
            _check(
                isinstance(self.num_labels, int) and self.num_labels >= 1,
                f"num_labels={self.num_labels!r} for a {self.head_type} head; give a positive number of labels",
            )
        else:
            _check(
                self.num_labels is None and self.id2label is None,
                f"a {self.head_type} head has no labels of its own; leave num_labels and id2label unset",
            )
        if labelled:
            id2label = self.id2label or {i: f"LABEL_{i}" for i in range(self.num_labels)}
            id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            _check(
                sorted(id2label) == list(range(self.num_labels)),
                f"id2label must name labels 0..{self.num_labels - 1}, got keys {sorted(id2label)}",
            )
            object.__setattr__(self, "id2label", MappingProxyType(id2label))
        _check(isinstance(self.layers, int) and self.layers >= 1, f"layers={self.layers!r}; a head has >= 1 layers")
        if self.layers > 1:
            from transformers.activations import ACT2FN

            _check(
                self.activation in ACT2FN,
                f"activation={self.activation!r} between {self.layers} layers; use a transformers ACT2FN name "
                "such as 'tanh', 'gelu' or 'relu'",
            )
        _check(not self.layer_norm or self.layers > 1, "layer_norm needs a hidden layer (layers >= 2)")
        if self.head_type in SEQUENCE_HEADS and not self.use_pooler:
            _check(self.pooling in POOLINGS, f"pooling={self.pooling!r}; expected one of {', '.join(POOLINGS)}")
        _check(not self.tie_output or self.head_type in LM_HEADS, "tie_output is for language-modelling heads")
        _check(
            not self.multilabel or self.head_type in ("multilabel_classification", "image_classification"),
            f"multilabel does not apply to a {self.head_type} head",
        )
        _check(self.dropout is None or 0.0 <= self.dropout < 1.0, f"dropout={self.dropout!r} must be in [0, 1)")

    def __deepcopy__(self, memo: dict) -> HeadConfig:
        return self  # frozen

    @property
    def label2id(self) -> dict[str, int] | None:
        return None if self.id2label is None else {label: i for i, label in self.id2label.items()}

    def replace(self, **changes: Any) -> HeadConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.id2label is not None:
            data["id2label"] = {str(k): v for k, v in self.id2label.items()}  # JSON keys are strings
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeadConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"HeadConfig has no field(s) {unknown}; fields: {sorted(known)}")
        if "head_type" not in data:
            raise ValueError("a head config needs a 'head_type'")
        return cls(**data)
