"""The interface between the checks and an implementation under test.

The checks talk to an implementation only through this interface and the adapter API of the model it returns
(``add_adapter``, ``set_active_adapters``, ... as AdapterHub ``adapters`` names them). Weights are exchanged under
the suite's canonical names (``conformance.weights``), never under an implementation's module names, so that the
same checks certify the reference implementation, AdapterHub ``adapters`` or a third party alike.

A new implementation subclasses ``Implementation`` in a module of its own and is chosen with ``--impl=mypkg.module``
(the module's ``IMPLEMENTATION``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class LoadResult:
    """What loading an adapter or head reports, the same for every implementation."""

    name: str
    missing_keys: list[str]
    unexpected_keys: list[str]


class Implementation(ABC):
    """One adapter implementation under test."""

    name: str = ""  # the --impl value and the stamp in result files
    package: str = ""  # the distribution that must be installed (named in the usage error when it is missing)
    # Behaviour that differs from the suite's expectation by the implementation's design: {feature or check: reason}.
    # Shown like an architecture's declared gap (a blank with a footnote); anything else that fails is a failure.
    # Keys (see implementation_gap): a feature ("prompt_tuning"), a method ("dora"), a check ("test_name" or
    # "TestClass::test_name"), or a check for one method ("TestClass::test_name[dora]"); any of them for one
    # architecture as "gpt2/<key>".
    gaps: Mapping[str, str] = {}
    # Keyword arguments of the save_* / load_* calls (save_adapter, load_adapter, save_head, ...) that make the
    # implementation write and read safetensors where it does not by default (AdapterHub: use_safetensors=True).
    serialization_keywords: Mapping[str, Any] = {}

    def gaps_on(self, spec: Any) -> Mapping[str, str]:
        """``gaps`` and the gaps that depend on how the installed transformers builds ``spec``'s model (keyed
        ``"<arch>/<key>"``): where an implementation's support depends on the transformers version."""
        return self.gaps

    # ----- models -----
    @abstractmethod
    def init(self, model: torch.nn.Module, spec: Any) -> torch.nn.Module:
        """``model`` (a plain transformers model of ``spec``'s architecture) with the adapter API."""

    @abstractmethod
    def make_config(self, data: dict[str, Any]) -> Any:
        """The implementation's config object for a config dict of the suite (``{"config": "lora", "r": 4}``)."""

    def adapter_config(self, model: Any, name: str) -> Any:
        """Adapter ``name``'s config as the model keeps it, comparable (``==``) with ``make_config``'s result."""
        return model.adapters_config[name]

    @abstractmethod
    def adapter_setup(self, setup: Any) -> Any:
        """A context manager that activates ``setup`` for the forward passes inside it."""

    def active_setup(self, model: Any) -> Any:
        """The model's active setup as the implementation gives it (the suite normalises it: impl.neutral_setup)."""
        return model.active_adapters

    def head_config(self, model: Any, name: str) -> dict[str, Any]:
        """Head ``name``'s config as a dict with at least ``head_type``, ``label2id`` (None for heads without labels)
        and ``tie_output`` (the output layer shares the input embeddings)."""
        import dataclasses

        config = model.heads_config[name]
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        # read-only mappings (a frozen config's id2label) compare and print as plain dicts
        return {
            **{k: dict(v) if isinstance(v, Mapping) else v for k, v in fields.items()},
            "label2id": config.label2id,
        }

    def reset_adapter(self, model: Any, name: str) -> None:
        """Undo ``merge_adapter(name)``."""
        model.reset_adapter(name)

    def load_adapter(self, model: Any, path: str, **kwargs: Any) -> LoadResult:
        """``model.load_adapter(path, **kwargs)`` (safetensors), its result normalised."""
        return _load_result(model.load_adapter(path, **kwargs, **self.serialization_keywords))

    def load_head(self, model: Any, path: str, **kwargs: Any) -> LoadResult:
        """``model.load_head(path, **kwargs)`` (safetensors), its result normalised."""
        return _load_result(model.load_head(path, **kwargs, **self.serialization_keywords))

    @abstractmethod
    def composition(self) -> Any:
        """A namespace with the composition blocks ``Stack, Parallel, Fuse, Split, BatchSplit, Average``."""

    # ----- weights, under the suite's canonical names (conformance.weights) -----
    @abstractmethod
    def adapter_parameters(self, model: Any, name: str) -> dict[str, torch.nn.Parameter]:
        """Every trainable tensor of adapter ``name``, keyed by the implementation's own names (opaque to checks)."""

    @abstractmethod
    def adapter_weights(self, model: Any, name: str) -> dict[str, torch.Tensor]:
        """Adapter ``name``'s effective tensors under canonical names, detached copies (see conformance.weights)."""

    @abstractmethod
    def set_adapter_weights(self, model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
        """Write canonical tensors into adapter ``name``. A name the implementation cannot write (a tensor that
        is derived, e.g. through a parametrisation, or a prefix computed by prefix tuning's reparametrising MLP)
        raises ``KeyError`` naming it."""

    def fusion_config(self, data: str | dict[str, Any]) -> Any:
        """The config ``add_adapter_fusion`` takes for a fusion config name or a dict of fields that differ from the
        dynamic fusion's (``{"temperature": 3.0}``)."""
        return data

    def fusion_parameters(self, model: Any, fusion: str) -> dict[str, torch.nn.Parameter]:
        """The trainable tensors of AdapterFusion ``fusion`` (``"a,b"``), keyed as ``model.named_parameters()``."""
        raise NotImplementedError(f"{type(self).__name__} does not expose fusion parameters")

    def fusion_attentions(self, outputs: Any, fusion: str) -> dict[str, torch.Tensor]:
        """The attention scores of fusion ``fusion`` that a forward pass with ``output_adapter_fusion_attentions=True``
        reported: {fusion layer: scores with the fused adapters on dimension 0}."""
        return dict(outputs["adapter_fusion_attentions"][fusion])

    def fusion_weights(self, model: Any, fusion: str) -> dict[str, torch.Tensor]:
        """AdapterFusion ``fusion``'s (``"a,b"``) tensors under canonical names."""
        raise NotImplementedError(f"{type(self).__name__} does not expose fusion weights")

    # ----- what the implementation claims; the suite compares claims with its own expectations -----
    def claimed_blocks(self, config: dict[str, Any]) -> frozenset[str] | None:
        """The composition blocks the implementation says adapters of ``config`` take part in; None: no claim."""
        return None

    def claimed_identity_at_init(self, config: Any) -> bool | None:
        """Whether the implementation says an adapter of ``config`` (its config object) starts as the identity;
        None: no claim (the behaviour is still checked)."""
        return None

    # ----- whole models and heads -----
    @abstractmethod
    def load_model(self, directory: Any, model_class: str, spec: Any) -> tuple[Any, dict[str, Any]]:
        """A model saved with its adapters by ``save_pretrained``, and its loading info (missing / unexpected keys)."""

    @abstractmethod
    def adapter_model_from_config(self, spec: Any, config: Any = None) -> Any:
        """The adapter model with flexible heads (no head yet) for ``spec``'s architecture."""

    @abstractmethod
    def adapter_model_from_static(self, static: Any, head_name: str = "default") -> Any:
        """A static head model as an adapter model whose head ``head_name`` is its head."""

    @abstractmethod
    def static_from_adapter_model(self, model: Any, head_name: str, class_name: str) -> Any:
        """Head ``head_name`` of an adapter model and its base model as an instance of transformers' ``class_name``."""

    @abstractmethod
    def load_adapter_model(self, path: Any) -> Any:
        """An adapter model from a directory: its own ``save_pretrained``, or a transformers checkpoint."""

    def trainer_class(self) -> type:
        """The ``transformers.Trainer`` (sub)class the implementation documents for training adapters."""
        from transformers import Trainer

        return Trainer


def _load_result(loaded: Any) -> LoadResult:
    return LoadResult(loaded.name, list(loaded.missing_keys), list(loaded.unexpected_keys))


def implementation_gap(
    gaps: Mapping[str, str], feature: str, method: str | None, check: str | None, arch: str | None = None
) -> str | None:
    """The reason of the first declared gap that covers this check (most specific key first), else None. Any key
    may be given for one architecture only as ``"<arch>/<key>"`` (``"gpt2/prompt_tuning"``); that comes first."""
    candidates = []
    if check is not None:
        function = check.rpartition("::")[2]
        if method is not None:
            candidates += [f"{check}[{method}]", f"{function}[{method}]"]
        candidates += [check, function]
    if method is not None:
        candidates.append(f"{feature}:{method}")
    candidates += [method, feature]
    candidates = [key for key in candidates if key is not None]
    if arch is not None:
        candidates = [f"{arch}/{key}" for key in candidates] + candidates
    return next((gaps[key] for key in candidates if key in gaps), None)
