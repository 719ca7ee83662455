"""The one seam between the checks and the implementation under test (the reference implementation by default)."""

from __future__ import annotations

from typing import Any


def init(model: Any, spec: Any) -> Any:
    from reference_impl import init as reference_init

    return reference_init(model, spec=spec)


def adapter_setup(setup: Any) -> Any:
    from reference_impl import AdapterSetup

    return AdapterSetup(setup)


def make_config(data: dict[str, Any]) -> Any:
    from reference_impl import resolve_config

    return resolve_config(data)


def supports_block(config: dict[str, Any], block: str) -> bool:
    """Whether the implementation lets adapters of ``config`` take part in the composition block ``block``."""
    from reference_impl.methods import family_of

    return block in family_of(make_config(config)).supported_blocks


def composition() -> Any:
    """The module with the composition blocks (Stack, Parallel, Fuse, Split, BatchSplit, Average)."""
    import reference_impl

    return reference_impl


def load_model(directory: Any, model_class: str, spec: Any) -> tuple[Any, dict[str, Any]]:
    """A model saved with its adapters by ``save_pretrained``, and its loading info (missing / unexpected keys)."""
    from reference_impl import load_model as reference_load

    return reference_load(directory, model_class, spec=spec, output_loading_info=True)


def adapter_model_from_config(spec: Any, config: Any = None) -> Any:
    """The implementation's adapter model with flexible heads (no head yet) for ``spec``'s architecture."""
    from reference_impl import AutoAdapterModel

    return AutoAdapterModel.from_config(spec.make_config() if config is None else config, spec)


def adapter_model_from_static(static: Any, head_name: str = "default") -> Any:
    """A static head model (``BertForSequenceClassification``) as an adapter model whose head ``head_name`` is its head."""
    from reference_impl.heads import from_static

    return from_static(static, head_name)


def static_from_adapter_model(model: Any, head_name: str, class_name: str) -> Any:
    """Head ``head_name`` of an adapter model and its base model as an instance of transformers' ``class_name``."""
    from reference_impl.heads import to_static

    return to_static(model, head_name, class_name)


def load_adapter_model(path: Any) -> Any:
    """An adapter model from a directory: its own ``save_pretrained``, or a transformers checkpoint."""
    from reference_impl import AutoAdapterModel

    return AutoAdapterModel.from_pretrained(path)
