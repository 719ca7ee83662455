"""Saving and loading single adapters."""

from __future__ import annotations

import shutil

import torch

from conformance import impl
from conformance.models import adapter_model, make_inputs, randomize_adapter, run


class PersistenceChecks:
    def test_save_load_roundtrip(self, spec, method, check_seed, tmp_path):
        inputs = make_inputs(spec, check_seed)
        source = adapter_model(spec)
        config = impl.make_config(method.config)
        source.add_adapter("a", config)
        randomize_adapter(source, "a", check_seed)
        source.save_adapter(str(tmp_path), "a", **impl.serialization_options())
        assert any(p.suffix == ".safetensors" for p in tmp_path.iterdir()), "weights must be saved as safetensors"

        target = adapter_model(spec)
        loaded = impl.load_adapter(target, str(tmp_path), set_active=True)
        assert loaded.name == "a"
        assert loaded.missing_keys == [] and loaded.unexpected_keys == []
        assert impl.adapter_config(target, "a") == config
        source.set_active_adapters("a")
        assert torch.equal(run(target, inputs), run(source, inputs))

    def test_load_as_other_name(self, spec, method, check_seed, tmp_path):
        inputs = make_inputs(spec, check_seed)
        source = adapter_model(spec)
        source.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(source, "a", check_seed)
        source.save_adapter(str(tmp_path), "a", **impl.serialization_options())
        target = adapter_model(spec)
        loaded = impl.load_adapter(target, str(tmp_path), load_as="b", set_active=True)
        assert loaded.name == "b" and set(target.adapters_config) == {"b"}
        assert torch.equal(run(target, inputs), run(source, inputs))

    def test_failed_load_changes_nothing(self, spec, method, check_seed, tmp_path):
        source = adapter_model(spec)
        source.add_adapter("a", impl.make_config(method.config))
        source.save_adapter(str(tmp_path / "saved"), "a", **impl.serialization_options())
        if method.resized is None:  # no config change resizes this method's weights: resize one in the file
            _enlarge_first_tensor(tmp_path / "saved")
        else:
            source.add_adapter("resized", impl.make_config({**method.config, **method.resized}))
            source.save_adapter(str(tmp_path / "resized"), "resized", **impl.serialization_options())
            for weights in (tmp_path / "resized").glob("*.safetensors"):  # weights that do not fit the saved config
                shutil.copy(weights, tmp_path / "saved" / weights.name)

        target = adapter_model(spec)
        target.add_adapter("a", impl.make_config(method.config), set_active=True)
        randomize_adapter(target, "a", check_seed)
        before = {k: v.clone() for k, v in target.state_dict().items()}
        try:
            target.load_adapter(str(tmp_path / "saved"), overwrite_ok=True, **impl.serialization_options())
        except ValueError as err:
            assert "shape" in str(err)
        else:
            raise AssertionError("loading weights of the wrong shape must raise ValueError")
        after = target.state_dict()
        assert after.keys() == before.keys()
        assert all(torch.equal(after[k], before[k]) for k in before), "a failed load must leave the model as it was"
        assert impl.active_setup(target) == impl.neutral_setup(("a",))


def _enlarge_first_tensor(directory) -> None:
    from safetensors.torch import load_file, save_file

    for path in directory.glob("*.safetensors"):
        tensors = load_file(str(path))
        first = sorted(tensors)[0]
        tensors[first] = torch.cat([tensors[first], tensors[first][:1]])
        save_file(tensors, str(path), metadata={"format": "pt"})
