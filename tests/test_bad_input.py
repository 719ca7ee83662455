"""Bad input to the reference implementation: every call raises an error that says what was wrong (and what to do),
and leaves the model exactly as it was: weights, adapters, fusions, heads, the active setup and the active head.

Run with ``-s`` to see the message a user gets for each input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from architectures.bert import SPEC as BERT
from architectures.gpt2 import SPEC as GPT2
from reference_impl import AdapterModel, Average, Fuse, LoRAConfig, Parallel, Split, Stack
from reference_impl.fusion_model import FUSION_CONFIG_NAME, FUSION_WEIGHTS_NAME
from reference_impl.persistence import CONFIG_NAME, WEIGHTS_NAME


def adapter_model(spec: Any = BERT, **config_changes: Any) -> AdapterModel:
    torch.manual_seed(0)
    config = spec.make_config()
    for key, value in config_changes.items():
        setattr(config, key, value)
    return AdapterModel(config, spec)


@pytest.fixture
def model() -> AdapterModel:
    """LoRA adapter ``a`` (active, with head ``a``), bottleneck adapters ``b`` and ``c`` and a fusion over them."""
    model = adapter_model()
    model.add_adapter("a", LoRAConfig(r=4, init_weights="bert"), set_active=True)
    model.add_adapter("b", "seq_bn")
    model.add_adapter("c", "seq_bn")
    model.add_adapter_fusion(Fuse("b", "c"))
    model.add_classification_head("a", num_labels=3)
    return model


def state_of(model: AdapterModel) -> dict[str, Any]:
    return {
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "trainable": {k: p.requires_grad for k, p in model.named_parameters()},
        "adapters": model.adapters_config,
        "fusions": dict(model.adapter_state.fusions),
        "heads": model.heads_config,
        "active": model.active_adapters,
        "active_head": model.active_head,
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()),
        "classes": sorted({type(m).__name__ for m in model.modules()}),
    }


def assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["weights"].keys() == before["weights"].keys(), "modules were added or removed"
    changed = [k for k, v in before["weights"].items() if not torch.equal(v, after["weights"][k])]
    assert not changed, f"weights changed: {changed[:3]}"
    for key in before:
        if key != "weights":
            assert after[key] == before[key], f"{key} changed"


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[AdapterModel, Path], Any]
    says: str  # a part of the message the user sees
    error: type[Exception] = ValueError


def _saved(model: AdapterModel, tmp: Path, name: str = "a") -> Path:
    model.save_adapter(tmp / name, name)
    return tmp / name


def _edit_config(folder: Path, edit: Callable[[dict[str, Any]], None], file_name: str = CONFIG_NAME) -> Path:
    payload = json.loads((folder / file_name).read_text())
    edit(payload)
    (folder / file_name).write_text(json.dumps(payload))
    return folder


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-4:] = bytes(255 - b for b in data[-4:])  # inside the last tensor: still a readable file
    path.write_bytes(bytes(data))


def _load(model: AdapterModel, folder: Path) -> Any:
    return model.load_adapter(folder, overwrite_ok=True)  # overwriting "a" is the worst case for "nothing lost"


def _saved_elsewhere(tmp: Path, spec: Any = BERT, with_head: bool = True, **config_changes: Any) -> Path:
    other = adapter_model(spec, **config_changes)
    other.add_adapter("a", LoRAConfig(r=4))
    other.add_classification_head("a", num_labels=3)
    other.save_adapter(tmp / "other", "a", with_head=with_head)
    return tmp / "other"


def _pickled(model: AdapterModel, tmp: Path) -> Path:
    folder = _saved(model, tmp)
    torch.save({"weights": torch.zeros(2)}, folder / "adapter_model.bin")
    (folder / WEIGHTS_NAME).unlink()
    return folder


def _mixed(model: AdapterModel, tmp: Path) -> Path:
    """The config of one save with the weights of another save of the same shapes."""
    folder = _saved(model, tmp)
    (folder / WEIGHTS_NAME).write_bytes((_saved_elsewhere(tmp) / WEIGHTS_NAME).read_bytes())
    return folder


def _pickle_as_safetensors(model: AdapterModel, tmp: Path) -> Path:
    folder = _saved(model, tmp)
    torch.save({"weights": torch.zeros(2)}, folder / WEIGHTS_NAME)
    return folder


CONFIGS = [
    Case("config-name-misspelt", lambda m, t: m.add_adapter("n", "lroa"), "unknown adapter config 'lroa' (did you mean 'lora'?)"),
    Case("config-dict-name-misspelt", lambda m, t: m.add_adapter("n", {"config": "seqbn"}), "got 'seqbn' (did you mean 'seq_bn'?)"),
    Case("config-unknown-key", lambda m, t: m.add_adapter("n", {"config": "lora", "rank": 4}), "LoRAConfig has no field(s) ['rank']"),
    Case("config-key-of-another-method", lambda m, t: m.add_adapter("n", {"config": "lora", "reduction_factor": 16}), "'reduction_factor' is a field of"),
    Case("zero-rank", lambda m, t: m.add_adapter("n", {"config": "lora", "r": 0}), "r (the rank) must be a positive integer, got 0"),
    Case("negative-reduction-factor", lambda m, t: m.add_adapter("n", {"config": "seq_bn", "reduction_factor": -2}), "reduction_factor must be > 0, got -2"),
    Case("zero-prefix-length", lambda m, t: m.add_adapter("n", {"config": "prefix_tuning", "prefix_length": 0}), "prefix_length must be a positive integer, got 0"),
    Case("negative-prompt-length", lambda m, t: m.add_adapter("n", {"config": "prompt_tuning", "prompt_length": -1}), "prompt_length must be a positive integer, got -1"),
    Case("zero-phm-dim", lambda m, t: m.add_adapter("n", {"config": "compacter", "phm_dim": 0}), "phm_dim must be >= 1, got 0"),
    Case("phm-dim-not-dividing", lambda m, t: m.add_adapter("n", {"config": "compacter", "phm_dim": 3}), "phm_dim=3 must divide"),
    Case("unknown-target-matrix", lambda m, t: m.add_adapter("n", {"config": "lora", "attn_matrices": ["q", "x"]}), "unknown attn_matrices ['x']; choose from"),
    Case("target-matrices-as-a-string", lambda m, t: m.add_adapter("n", {"config": "lora", "attn_matrices": "qv"}), "attn_matrices must be a list of strings, got 'qv'", TypeError),
    Case("bool-as-size", lambda m, t: m.add_adapter("n", {"config": "lora", "r": True}), "r must be an integer, got True", TypeError),
    Case("infinite-alpha", lambda m, t: m.add_adapter("n", {"config": "lora", "alpha": math.inf}), "alpha must be a finite number, got inf", TypeError),
    Case("string-as-number", lambda m, t: m.add_adapter("n", {"config": "lora", "dropout": "0.1"}), "dropout must be a finite number, got '0.1'", TypeError),
    Case("contradictory-parallel-and-mh", lambda m, t: m.add_adapter("n", {"config": "seq_bn", "is_parallel": True, "mh_adapter": True}), "set mh_adapter=False"),
    Case("contradictory-no-place", lambda m, t: m.add_adapter("n", {"config": "seq_bn", "mh_adapter": False, "output_adapter": False}), "enable mh_adapter, output_adapter or both"),
    Case("contradictory-lora-adapts-nothing", lambda m, t: m.add_adapter("n", {"config": "lora", "selfattn_lora": False}), "adapts no matrix"),
    Case("contradictory-prompt-init", lambda m, t: m.add_adapter("n", {"config": "prompt_tuning", "prompt_init": "from_string"}), "needs prompt_init_ids"),
    Case("contradictory-reft-identity", lambda m, t: m.add_adapter("n", {"config": "loreft", "init_weights": "identity", "non_linearity": "relu"}), "needs non_linearity=None"),
    Case("leave-out-every-layer", lambda m, t: m.add_adapter("n", {"config": "lora", "leave_out": list(range(8))}), "adapts no layer"),
    Case("another-methods-config-in-a-union", lambda m, t: m.add_adapter("n", {"config": "mam", "adapter": {"config": "lora"}}), "MAMConfig.adapter must be a BnConfig, got LoRAConfig", TypeError),
    Case("adapter-config-as-fusion-config", lambda m, t: m.add_adapter_fusion(Fuse("b", "c"), LoRAConfig(), overwrite_ok=True), "expected a FusionConfig", TypeError),
    Case("config-of-a-wrong-type", lambda m, t: m.add_adapter("n", 42), "expected an AdapterConfig, a config name or a dict, got int", TypeError),
]  # fmt: skip

NAMES = [
    Case("existing-adapter", lambda m, t: m.add_adapter("a", "seq_bn"), "an adapter named 'a' exists already; pass overwrite_ok=True"),
    Case("existing-head", lambda m, t: m.add_classification_head("a", num_labels=2), "'a'"),
    Case("existing-fusion", lambda m, t: m.add_adapter_fusion(Fuse("b", "c")), "a fusion 'b,c' exists already; pass overwrite_ok=True"),
    Case("delete-unknown-adapter", lambda m, t: m.delete_adapter("zz"), "no adapter named 'zz'; adapters of this model: a, b, c"),
    Case("delete-unknown-fusion", lambda m, t: m.delete_adapter_fusion(Fuse("a", "b")), "no fusion 'a,b'"),
    Case("delete-unknown-head", lambda m, t: m.delete_head("zz"), "'zz'"),
    Case("activate-unknown-adapter", lambda m, t: m.set_active_adapters("zz"), "no adapter named 'zz'"),
    Case("name-with-dot", lambda m, t: m.add_adapter("a.b", "lora"), "use a non-empty name without dots, commas or outer spaces"),
    Case("empty-name", lambda m, t: m.add_adapter("", "lora"), "use a non-empty name"),
    Case("reserved-name", lambda m, t: m.add_adapter("keys", "lora"), "'keys' is reserved"),
    Case("composition-naming-unknown-adapter", lambda m, t: m.set_active_adapters(Stack("a", "zz")), "no adapter named 'zz'"),
    Case("forbidden-nesting", lambda m, t: m.set_active_adapters(Parallel(Split("b", "c", splits=[4, 4]), "a")), "Split cannot be nested in Parallel"),
    Case("method-not-in-block", lambda m, t: m.set_active_adapters(Fuse("a", "b")), "no fusion 'a,b'"),
    Case("average-weight-not-finite", lambda m, t: m.set_active_adapters(Average("b", "c", weights=[1.0, math.nan])), "Average weights must be finite numbers"),
    Case("fusion-of-unknown-adapter", lambda m, t: m.add_adapter_fusion(Fuse("b", "zz")), "no adapter named 'zz'"),
    Case("activate-unknown-head", lambda m, t: setattr(m, "active_head", "zz"), "no head named 'zz'; heads of this model: a"),
    Case("head-name-with-dot", lambda m, t: m.add_classification_head("x.y", num_labels=2), "head name 'x.y': use a non-empty name without dots"),
    Case("train-unknown-adapter", lambda m, t: m.train_adapter("zz"), "no adapter named 'zz'"),
    Case("save-unknown-adapter", lambda m, t: m.save_adapter(t / "zz", "zz"), "no adapter named 'zz'"),
    Case("setup-of-a-wrong-type", lambda m, t: m.set_active_adapters(3), "an adapter setup is a name, a list, a composition block or None, not int", TypeError),
]  # fmt: skip

CHECKPOINTS = [
    Case("no-config-file", lambda m, t: _load(m, _without(_saved(m, t), CONFIG_NAME)), "adapter_config.json is missing"),
    Case("missing-folder", lambda m, t: _load(m, t / "never"), "never: no such folder"),
    Case("truncated-safetensors", lambda m, t: _load(m, _truncate(_saved(m, t) / WEIGHTS_NAME)), "is not a readable safetensors file"),
    Case("corrupted-safetensors", lambda m, t: _load(m, _corrupt(_saved(m, t))), "its sha256 differs"),
    Case("files-of-two-saves", lambda m, t: _load(m, _mixed(m, t)), "the folder mixes files of different saves"),
    Case("another-hidden-size", lambda m, t: _load(m, _saved_elsewhere(t, hidden_size=64, intermediate_size=64)), "this model expects"),
    Case("another-architecture", lambda m, t: _load(m, _saved_elsewhere(t, GPT2)), "was saved from a 'gpt2' model; this model is 'bert'"),
    Case("a-pickle", lambda m, t: _load(m, _pickled(m, t)), "adapter_model.safetensors is missing; adapter_model.bin is never read (a pickle can run code)"),
    Case("a-pickle-named-safetensors", lambda m, t: _load(m, _pickle_as_safetensors(m, t)), "is not a readable safetensors file"),
    Case("unknown-method", lambda m, t: _load(m, _edit_config(_saved(m, t), lambda p: p["config"].update(config="lora_xl"))), "holds an invalid adapter config"),
    Case("newer-format-version", lambda m, t: _load(m, _edit_config(_saved(m, t), lambda p: p.update(format_version=2))), "has format_version 2; this version of reference_impl reads up to 1"),
    Case("head-of-another-size", lambda m, t: m.load_head(_head_elsewhere(t), overwrite_ok=True), "a model of another size?"),
    Case("head-newer-format-version", lambda m, t: m.load_head(_edit_config(_head(m, t), lambda p: p.update(format_version=3), "head_config.json"), overwrite_ok=True), "has format_version 3"),
    Case("fusion-over-missing-adapters", lambda m, t: _fusion_elsewhere(m, t), "no adapter named"),
    Case("config-json-unknown-key", lambda m, t: _load(m, _edit_config(_saved(m, t), lambda p: p["config"].update(rank=4))), "holds an invalid adapter config: LoRAConfig has no field(s) ['rank']"),
    Case("config-json-unknown-top-level-key", lambda m, t: _load(m, _edit_config(_saved(m, t), lambda p: p.update(adapter_size=4))), "has unknown key(s) ['adapter_size']"),
    Case("config-json-wrong-type", lambda m, t: _load(m, _edit_config(_saved(m, t), lambda p: p["config"].update(r="4"))), "LoRAConfig: r must be an integer, got '4'"),
    Case("config-json-not-an-object", lambda m, t: _load(m, _write(_saved(m, t) / CONFIG_NAME, "[1, 2]")), "holds a JSON array, not the object save_adapter writes"),
    Case("config-json-truncated", lambda m, t: _load(m, _cut(_saved(m, t) / CONFIG_NAME)), "adapter_config.json is not valid JSON"),
    Case("adapter-of-another-hidden-size", lambda m, t: _load(m, _saved_elsewhere(t, with_head=False, hidden_size=64, intermediate_size=64)), "has shape (4, 64), the model expects (4, 32)"),
    Case("adapter-of-another-architecture", lambda m, t: _load(m, _saved_elsewhere(t, GPT2, with_head=False)), "adapter in"),
    Case("head-folder-as-adapter", lambda m, t: _load(m, _head(m, t)), "adapter_config.json is missing (save it with save_adapter)"),
    Case("fusion-no-config-file", lambda m, t: m.load_adapter_fusion(_without(_fusion(t), FUSION_CONFIG_NAME)), "adapter_fusion_config.json is missing (save it with save_adapter_fusion)"),
    Case("fusion-config-truncated", lambda m, t: m.load_adapter_fusion(_cut(_fusion(t) / FUSION_CONFIG_NAME)), "adapter_fusion_config.json is not valid JSON"),
    Case("fusion-config-not-an-object", lambda m, t: m.load_adapter_fusion(_write(_fusion(t) / FUSION_CONFIG_NAME, "[1]")), "needs 'adapters' (a list of names) and 'config'"),
    Case("fusion-newer-format-version", lambda m, t: m.load_adapter_fusion(_edit_config(_fusion(t), lambda p: p.update(format_version=2), FUSION_CONFIG_NAME)), "has format_version 2; this version of reference_impl reads up to 1"),
    Case("fusion-another-architecture", lambda m, t: m.load_adapter_fusion(_edit_config(_fusion(t), lambda p: p.update(model_type="gpt2"), FUSION_CONFIG_NAME)), "was saved from a 'gpt2' model; this model is 'bert'"),
    Case("fusion-corrupted-weights", lambda m, t: m.load_adapter_fusion(_flipped(_fusion(t), FUSION_WEIGHTS_NAME)), "its sha256 differs"),
    Case("fusion-truncated-weights", lambda m, t: m.load_adapter_fusion(_truncate(_unhashed(_fusion(t)) / FUSION_WEIGHTS_NAME)), "is not a readable safetensors file"),
    Case("fusion-another-hidden-size", lambda m, t: m.load_adapter_fusion(_fusion(t, hidden_size=64, intermediate_size=64)), "has shape"),
    Case("fusion-invalid-config", lambda m, t: m.load_adapter_fusion(_edit_config(_fusion(t), lambda p: p.update(config="dynamc"), FUSION_CONFIG_NAME)), "unknown fusion config 'dynamc'"),
    Case("adapter-folder-as-fusion", lambda m, t: m.load_adapter_fusion(_saved(m, t)), "adapter_fusion_config.json is missing"),
]  # fmt: skip


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path.parent


def _cut(path: Path) -> Path:
    return _write(path, path.read_text()[:-20])


def _flipped(folder: Path, file_name: str) -> Path:
    _flip_bytes(folder / file_name)
    return folder


def _unhashed(folder: Path) -> Path:
    """As saved before hashes were recorded: the weights file is read without a hash to compare."""
    return _edit_config(folder, lambda p: p.pop("sha256"), FUSION_CONFIG_NAME)


def _fusion(tmp: Path, **config_changes: Any) -> Path:
    """A fusion 'c,b' over adapters of the fixture's names and kinds (the fixture has 'b,c' only)."""
    other = adapter_model(**config_changes)
    other.add_adapter("b", "seq_bn")
    other.add_adapter("c", "seq_bn")
    other.add_adapter_fusion(Fuse("c", "b"))
    other.save_adapter_fusion(tmp / "fusion", Fuse("c", "b"))
    return tmp / "fusion"


def _without(folder: Path, file_name: str) -> Path:
    (folder / file_name).unlink()
    return folder


def _truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:-100])
    return path.parent


def _corrupt(folder: Path) -> Path:
    _flip_bytes(folder / WEIGHTS_NAME)
    return folder


def _head(model: AdapterModel, tmp: Path) -> Path:
    model.save_head(tmp / "head", "a")
    return tmp / "head"


def _head_elsewhere(tmp: Path) -> Path:
    other = adapter_model(hidden_size=64, intermediate_size=64)
    other.add_classification_head("a", num_labels=3)
    other.save_head(tmp / "head", "a")
    return tmp / "head"


def _fusion_elsewhere(model: AdapterModel, tmp: Path) -> Any:
    other = adapter_model()
    other.add_adapter("x", "seq_bn")
    other.add_adapter("y", "seq_bn")
    other.add_adapter_fusion(Fuse("x", "y"))
    other.save_adapter_fusion(tmp / "fusion", Fuse("x", "y"))
    return model.load_adapter_fusion(tmp / "fusion")


@pytest.mark.parametrize("case", [*CONFIGS, *NAMES, *CHECKPOINTS], ids=lambda case: case.id)
def test_bad_input_says_what_is_wrong_and_changes_nothing(model: AdapterModel, tmp_path: Path, case: Case) -> None:
    before = state_of(model)
    with pytest.raises(case.error) as info:
        case.call(model, tmp_path)
    message = str(info.value)
    print(f"{case.id}: {type(info.value).__name__}: {message}")
    assert case.says in message
    assert_same_state(before, state_of(model))


def test_a_failed_load_of_a_whole_model_says_why(model: AdapterModel, tmp_path: Path) -> None:
    model.save_pretrained(tmp_path / "model")
    setup = tmp_path / "model" / "adapter_setup.json"
    setup.write_text(json.dumps({**json.loads(setup.read_text()), "format_version": 5}))
    with pytest.raises(ValueError, match="has format_version 5; this version of reference_impl reads up to 1"):
        AdapterModel.from_pretrained(tmp_path / "model", BERT)
    model.save_pretrained(tmp_path / "model")
    for item in (tmp_path / "model" / "adapters" / "b").iterdir():
        item.unlink()
    with pytest.raises(ValueError, match="adapter_config.json is missing"):
        AdapterModel.from_pretrained(tmp_path / "model", BERT)


def test_a_new_save_keeps_files_it_did_not_write_and_drops_what_an_old_save_left(model: AdapterModel, tmp_path):
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    (folder / "tokenizer.json").write_text("{}")
    model.delete_adapter("c")
    model.save_pretrained(folder)
    assert (folder / "tokenizer.json").read_text() == "{}", "a tokenizer saved beside the model is kept"
    assert sorted(p.name for p in (folder / "adapters").iterdir()) == ["a", "b"], "the deleted adapter is gone"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no staging folder is left"


@pytest.mark.parametrize("step", ["build", "attach"])
def test_overwriting_keeps_the_old_adapter_when_the_new_one_fails(model, monkeypatch, step):
    """The old adapter (weights, fusion over it, trainable flags, active setup) survives a failure at any step."""
    from reference_impl.methods import family_of

    model.train_adapter(Stack("b"))
    model.set_active_adapters(Fuse("b", "c"))
    with torch.no_grad():
        for param in model.fusion_parameters(Fuse("b", "c")).values():
            param.add_(0.5)  # the fusion is not as freshly built: restoring it means its weights
    before = state_of(model)
    family = family_of(model.adapters_config["b"])

    real = getattr(type(family), step)
    calls = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(step)
        if len(calls) == 1:  # the new adapter fails; rebuilding the old one works, as it did before
            raise RuntimeError(f"the new adapter fails at {step}")
        return real(*args, **kwargs)

    monkeypatch.setattr(type(family), step, fails_once)
    with pytest.raises(RuntimeError, match=f"fails at {step}"):
        model.add_adapter("b", {"config": "seq_bn", "reduction_factor": 4}, overwrite_ok=True)
    monkeypatch.undo()
    assert_same_state(before, state_of(model))
