"""AdapterHub ``adapters`` (1.3.x, on transformers 4.57.x) behind the suite's interface: ``--impl=adapters``.

This package is the one place of the suite that knows AdapterHub's internals: config translation
(``configs``) and its tensors under the suite's canonical names (``weights``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from conformance.interface import Implementation, LoadResult

from .configs import to_adapters_config
from .gaps import GAPS
from .weights import read_fusion, read_weights, write_weights


_TEMPERATURE = "fixed_fusion_temperature"  # the gap key of a fixed fusion temperature other than 1.0


class AdaptersImplementation(Implementation):
    name = "adapters"
    package = "adapters"
    serialization_keywords = {"use_safetensors": True}  # AdapterHub pickles by default
    gaps = GAPS

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
        import types

        from adapters import composition

        # the blocks under AdapterHub's names, and their base class under the interface's name too
        names = {n: getattr(composition, n) for n in dir(composition) if not n.startswith("_")}
        return types.SimpleNamespace(**names, CompositionBlock=composition.AdapterCompositionBlock)

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

    def fusion_config(self, data: str | dict[str, Any]) -> Any:
        from adapters import AdapterFusionConfig

        if not isinstance(data, dict):
            return data
        data = dict(data)
        # AdapterHub's `temperature` is a switch (anneal T from 50 down to 1), not a value: the suite's fixed
        # temperature 1.0 is the switch off; any other fixed temperature it cannot express (a declared gap)
        if "temperature" in data:
            temperature = data.pop("temperature")
            if temperature != 1.0:
                raise ValueError(f"AdapterHub has no fixed fusion temperature {temperature} ({GAPS[_TEMPERATURE]})")
            data["temperature"] = False
        # AdapterHub takes a full config dict only: the suite's fields override the dynamic fusion's
        return AdapterFusionConfig.load("dynamic", **data)

    def fusion_parameters(self, model: Any, fusion: str) -> dict[str, torch.nn.Parameter]:
        return {k: p for k, p in model.named_parameters() if f".adapter_fusion_layer.{fusion}." in k}

    def fusion_attentions(self, outputs: Any, fusion: str) -> dict[str, torch.Tensor]:
        # AdapterHub: {layer index: {location: numpy scores (batch, sequence, adapters)}}
        found = outputs["adapter_fusion_attentions"][fusion]
        return {
            f"{layer}.{location}": torch.as_tensor(scores).movedim(-1, 0)
            for layer, by_location in found.items()
            for location, scores in by_location.items()
        }

    def adapter_config(self, model: Any, name: str) -> Any:
        if name not in model.adapters_config:
            raise KeyError(f"no adapter named {name!r}")
        import adapters

        return adapters.AdapterConfig.load(model.adapters_config.get(name))  # a loaded model keeps plain dicts

    def load_model(self, directory: Any, model_class: str, spec: Any) -> tuple[Any, dict[str, Any]]:
        import adapters
        import transformers

        # AdapterHub's own loader: adapters are set up from the saved config before the weights load
        model, info = adapters.load_model(str(directory), getattr(transformers, model_class), output_loading_info=True)
        model.conformance_spec = spec
        return model, info

    def adapter_model_from_config(self, spec: Any, config: Any = None) -> Any:
        from adapters import AutoAdapterModel

        model = AutoAdapterModel.from_config(spec.make_config() if config is None else config)
        model.conformance_spec = spec
        return model

    def adapter_model_from_static(self, static: Any, head_name: str = "default") -> Any:
        """AdapterHub converts a static head when an adapter model loads its checkpoint (as head ``default``)."""
        import tempfile

        from adapters import AutoAdapterModel

        if head_name != "default":
            raise ValueError(f"AdapterHub loads a static head as head 'default' only, not {head_name!r}")
        with tempfile.TemporaryDirectory() as directory:
            static.save_pretrained(directory)
            return AutoAdapterModel.from_pretrained(directory)

    def static_from_adapter_model(self, model: Any, head_name: str, class_name: str) -> Any:
        raise NotImplementedError("AdapterHub has no conversion of an adapter model back to a static head class")

    def reset_adapter(self, model: Any, name: str) -> None:
        model.reset_adapter()  # AdapterHub resets whichever adapter is merged

    def load_adapter(self, model: Any, path: str, **kwargs: Any) -> LoadResult:
        info: dict[str, Any] = {}
        name = model.load_adapter(path, loading_info=info, **kwargs, **self.serialization_keywords)
        return LoadResult(name, list(info.get("missing_keys", [])), list(info.get("unexpected_keys", [])))

    def load_head(self, model: Any, path: str, **kwargs: Any) -> LoadResult:
        info: dict[str, Any] = {}
        loaded = model.load_head(path, loading_info=info, **kwargs, **self.serialization_keywords)
        name = loaded[1] if isinstance(loaded, tuple) else loaded  # AdapterHub returns (directory, head name)
        return LoadResult(name, list(info.get("missing_keys", [])), list(info.get("unexpected_keys", [])))

    def head_config(self, model: Any, name: str) -> dict[str, Any]:
        config = dict(model.config.prediction_heads[name])
        lm_head = config["head_type"] in ("causal_lm", "masked_lm", "seq2seq_lm")
        tied = lm_head and getattr(model.config, "tie_word_embeddings", True)
        return {"label2id": None, **config, "tie_output": bool(tied)}

    def load_adapter_model(self, path: Any) -> Any:
        from adapters import AutoAdapterModel

        return AutoAdapterModel.from_pretrained(path)

    def trainer_class(self) -> type:
        from adapters import AdapterTrainer

        # AdapterHub's documented trainer: a flexible-head forward takes labels through **kwargs, so the plain
        # Trainer drops the labels column; AdapterTrainer names them from the active head
        return AdapterTrainer


IMPLEMENTATION = AdaptersImplementation()
