"""The reference implementation (``reference_impl``) behind the suite's interface. This package is the one place of
the suite that knows the reference's internals: it translates them to the suite's canonical weight names."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch

from conformance.interface import Implementation

from .weights import read_weights, write_weights


# Where the reference falls short of the expectations manifest, by design for now (shown as declared gaps).
_PREFIX_BRANCHES = (
    "reference_impl composes prefix tuning in Stack only (a Stack concatenates the prefixes); a prefix per branch "
    "of Parallel or per slice of BatchSplit is not implemented"
)


class ReferenceImplementation(Implementation):
    name = "reference"
    package = "adapter-conformance"
    gaps = MappingProxyType(
        {
            f"{feature}:{method}": _PREFIX_BRANCHES
            for feature in ("parallel", "batch_split")
            for method in ("prefix_tuning", "mam", "unipelt")
        }
    )

    def gaps_on(self, spec: Any) -> Mapping[str, str]:
        found = _prefix_gaps(spec)
        return {**self.gaps, **{f"{spec.name}/{key}": reason for key, reason in found.items()}} if found else self.gaps

    def init(self, model: torch.nn.Module, spec: Any) -> torch.nn.Module:
        from reference_impl import init

        return init(model, spec=spec)

    def make_config(self, data: dict[str, Any]) -> Any:
        from reference_impl import resolve_config

        return resolve_config(data)

    def adapter_setup(self, setup: Any) -> Any:
        from reference_impl import AdapterSetup

        return AdapterSetup(setup)

    def composition(self) -> Any:
        import reference_impl

        return reference_impl

    def adapter_parameters(self, model: Any, name: str) -> dict[str, torch.nn.Parameter]:
        return model.adapter_parameters(name)

    def fusion_parameters(self, model: Any, fusion: str) -> dict[str, torch.nn.Parameter]:
        return model.fusion_parameters(fusion)

    def adapter_weights(self, model: Any, name: str) -> dict[str, torch.Tensor]:
        return read_weights(model, name)

    def set_adapter_weights(self, model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
        write_weights(model, name, weights)

    def fusion_weights(self, model: Any, fusion: str) -> dict[str, torch.Tensor]:
        from .bottleneck import read_fusion

        return read_fusion(model, fusion)

    def claimed_blocks(self, config: dict[str, Any]) -> frozenset[str] | None:
        from reference_impl.methods import family_of

        return frozenset(family_of(self.make_config(config)).supported_blocks)

    def claimed_identity_at_init(self, config: Any) -> bool | None:
        return config.identity_at_init

    def load_model(self, directory: Any, model_class: str, spec: Any) -> tuple[Any, dict[str, Any]]:
        from reference_impl import load_model

        return load_model(directory, model_class, spec=spec, output_loading_info=True)

    def adapter_model_from_config(self, spec: Any, config: Any = None) -> Any:
        from reference_impl import AutoAdapterModel

        return AutoAdapterModel.from_config(spec.make_config() if config is None else config, spec)

    def adapter_model_from_static(self, static: Any, head_name: str = "default") -> Any:
        from reference_impl.heads import from_static

        return from_static(static, head_name)

    def static_from_adapter_model(self, model: Any, head_name: str, class_name: str) -> Any:
        from reference_impl.heads import to_static

        return to_static(model, head_name, class_name)

    def load_adapter_model(self, path: Any) -> Any:
        from reference_impl import AutoAdapterModel

        return AutoAdapterModel.from_pretrained(path)


@functools.cache
def _prefix_gaps(spec: Any) -> dict[str, str]:
    """Prefix tuning where the installed transformers builds ``spec``'s attention so that the reference cannot reach
    it (ModernBERT before 5.x dispatched: a fused Wqkv and a table of its own), and UniPELT where it cannot gate a
    prefix (4.x BERT, T5, GPT-J, ... compute attention in their own forward); keyed by method."""
    from architectures.spec import prefix_tuning_gaps
    from architectures.versions import installed
    from conformance.methods import METHODS
    from conformance.models import clone, plain_model
    from reference_impl import init
    from reference_impl.methods.prefix.routes import prefix_problems

    if not spec.applicable or spec.gap_reason(METHODS["prefix_tuning"].feature, "prefix_tuning"):
        return {}
    unreachable, ungated = prefix_problems(init(clone(plain_model(spec)), spec=spec))
    where = f"on transformers {installed('transformers')}, "
    if unreachable:
        return prefix_tuning_gaps(where + unreachable)
    if ungated and not spec.gap_reason(METHODS["unipelt"].feature, "unipelt"):
        return {"unipelt": where + ungated}
    return {}


IMPLEMENTATION = ReferenceImplementation()
