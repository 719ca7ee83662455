"""Saving a whole model with ``save_pretrained`` and loading it back with its adapters, configs and active setup."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from conformance import impl
from conformance.models import adapter_model, head_model_class, make_inputs, randomize_adapter, run


PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".ckpt"}


def saved_model(spec, method, seed: int, directory: Path):
    """A head model with two adapters, "a" active and "b" not, saved to ``directory``; returns (model, class)."""
    class_name = head_model_class(spec)
    model = adapter_model(spec, class_name)
    for offset, name in enumerate(("a", "b")):
        model.add_adapter(name, impl.make_config(method.config))
        randomize_adapter(model, name, seed + offset)
    model.set_active_adapters("a")
    model.save_pretrained(directory)
    return model, class_name


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _is_alias(tensor: torch.Tensor, others: list[torch.Tensor]) -> bool:
    """Is ``tensor`` one of ``others`` under another name (a module registered in two places, as AdapterHub's prefix
    pool is under every layer of a loaded model)? An alias adds no state, so a restored model may hold more of them."""
    if tensor.numel() == 0:
        return False
    ident = (tensor.data_ptr(), tensor.shape, tensor.stride())
    return any((o.data_ptr(), o.shape, o.stride()) == ident for o in others)


class _TouchOnUnpickle:
    """Unpickling this creates ``marker``: proof that a loader unpickled a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class FullModelChecks:
    def test_save_pretrained_restores_everything(self, spec, method, check_seed, tmp_path):
        inputs = make_inputs(spec, check_seed)
        source, class_name = saved_model(spec, method, check_seed, tmp_path)
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.suffix == ".safetensors" for p in files), "weights must be saved as safetensors"
        assert not [p for p in files if p.suffix in PICKLE_SUFFIXES], "nothing may be saved as a pickle"

        loaded, info = impl.load_model(tmp_path, class_name, spec)
        assert not info["missing_keys"] and not info["unexpected_keys"], info
        # a subclass is the class: AdapterHub's init gives a wrapped model a subclass (EncoderDecoderModelWithAdapters)
        loaded_names = [c.__name__ for c in type(loaded).__mro__]
        assert class_name in loaded_names, f"loaded as {type(loaded).__name__}, not a {class_name}"
        assert list(loaded.adapters_config) == list(source.adapters_config), "adapters (and their order) differ"
        configs = [{name: impl.adapter_config(m, name) for name in m.adapters_config} for m in (loaded, source)]
        assert configs[0] == configs[1], "adapter configs differ"
        expected, got = source.state_dict(), loaded.state_dict()
        assert expected.keys() <= got.keys(), f"tensors not restored: {sorted(expected.keys() - got.keys())[:5]}"
        extra = [k for k in got.keys() - expected.keys() if not _is_alias(got[k], [got[e] for e in expected])]
        assert not extra, f"tensors the saved model did not have: {sorted(extra)[:5]}"
        assert all(torch.equal(got[k], expected[k]) for k in expected), "some weight differs after loading"
        with impl.adapter_setup("a"):  # whether "a" is restored active: test_save_pretrained_restores_the_active_setup
            assert torch.equal(run(loaded, inputs), run(source, inputs))
        with impl.adapter_setup("b"):
            assert torch.equal(run(loaded, inputs), run(source, inputs)), "the inactive adapter was not restored"

    def test_failed_load_builds_nothing(self, spec, method, check_seed, tmp_path):
        _, class_name = saved_model(spec, method, check_seed, tmp_path)
        before = tree(tmp_path)
        adapter_weights = sorted(p for p in tmp_path.rglob("*.safetensors") if p.parent != tmp_path)
        assert adapter_weights, "save_pretrained saved no adapter weights"
        intact = adapter_weights[0].read_bytes()
        adapter_weights[0].write_bytes(b"not a safetensors file")
        with pytest.raises(ValueError):
            impl.load_model(tmp_path, class_name, spec)
        adapter_weights[0].write_bytes(intact)
        loaded, info = impl.load_model(tmp_path, class_name, spec)  # nothing of the failed load is left in the way
        assert not info["missing_keys"] and set(loaded.adapters_config) == {"a", "b"}
        assert tree(tmp_path) == before, "loading must not write to the saved directory"

    def test_save_pretrained_restores_the_active_setup(self, spec, method, check_seed, tmp_path):
        source, class_name = saved_model(spec, method, check_seed, tmp_path)
        loaded, _ = impl.load_model(tmp_path, class_name, spec)
        assert impl.active_setup(loaded) == impl.active_setup(source), "the active setup was not restored"

    def test_load_never_unpickles(self, spec, method, check_seed, tmp_path):
        _, class_name = saved_model(spec, method, check_seed, tmp_path)
        marker = tmp_path.parent / f"{tmp_path.name}-unpickled"
        weights = list(tmp_path.rglob("*.safetensors"))
        assert weights, "save_pretrained saved no safetensors"  # one file or one per adapter: the layout is free
        for path in weights:  # only pickles are left to load from, for the base model and for each adapter
            path.unlink()
            path.with_name("pytorch_model.bin").write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
        # a refusal: our ValueError, or torch's weights-only loader refusing the pickle (transformers' own loading;
        # transformers 4.x reports that refusal as an OSError)
        with pytest.raises((ValueError, pickle.UnpicklingError, OSError)):
            impl.load_model(tmp_path, class_name, spec)
        assert not marker.exists(), "loading unpickled a file"
