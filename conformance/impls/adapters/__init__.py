"""AdapterHub ``adapters`` (1.3.x, on transformers 4.57.x) behind the suite's interface: ``--impl=adapters``.

This package is the one place of the suite that knows AdapterHub's internals: config translation
(``configs``) and its tensors under the suite's canonical names (``weights``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from conformance.interface import Implementation

from .configs import to_adapters_config
from .weights import read_fusion, read_weights, write_weights


class AdaptersImplementation(Implementation):
    name = "adapters"
    package = "adapters"

    def init(self, model: torch.nn.Module, spec: Any) -> torch.nn.Module:
        import adapters

        adapters.init(model)
        model.conformance_spec = spec  # the weight view finds layers through the suite's own spec
        return model

    def make_config(self, data: dict[str, Any]) -> Any:
        return to_adapters_config(data)

    def adapter_setup(self, setup: Any) -> Any:
        import adapters

        return adapters.AdapterSetup(setup)

    def composition(self) -> Any:
        from adapters import composition

        return composition

    def adapter_parameters(self, model: Any, name: str) -> dict[str, torch.nn.Parameter]:
        if name not in model.adapters_config:
            raise ValueError(f"no adapter named {name!r}")
        found = {}
        for key, param in model.named_parameters():
            parts = key.split(".")
            if name in parts and parts.index(name) > 0:
                found[key] = param
        return found

    def adapter_weights(self, model: Any, name: str) -> dict[str, torch.Tensor]:
        return read_weights(model, name)

    def set_adapter_weights(self, model: Any, name: str, weights: Mapping[str, torch.Tensor]) -> None:
        write_weights(model, name, weights)

    def fusion_weights(self, model: Any, fusion: str) -> dict[str, torch.Tensor]:
        return read_fusion(model, fusion)

    def adapter_config(self, model: Any, name: str) -> Any:
        if name not in model.adapters_config:
            raise KeyError(f"no adapter named {name!r}")
        return model.adapters_config.get(name)

    def load_model(self, directory: Any, model_class: str, spec: Any) -> tuple[Any, dict[str, Any]]:
        import adapters
        import transformers

        model, info = getattr(transformers, model_class).from_pretrained(directory, output_loading_info=True)
        adapters.init(model)
        return model, info

    def adapter_model_from_config(self, spec: Any, config: Any = None) -> Any:
        from adapters import AutoAdapterModel

        return AutoAdapterModel.from_config(spec.make_config() if config is None else config)

    def adapter_model_from_static(self, static: Any, head_name: str = "default") -> Any:
        raise NotImplementedError("AdapterHub converts static heads when loading a checkpoint; not wired yet")

    def static_from_adapter_model(self, model: Any, head_name: str, class_name: str) -> Any:
        raise NotImplementedError("AdapterHub has no conversion back to a static head class")

    def load_adapter_model(self, path: Any) -> Any:
        from adapters import AutoAdapterModel

        return AutoAdapterModel.from_pretrained(path)


IMPLEMENTATION = AdaptersImplementation()
