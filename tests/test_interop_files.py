"""AdapterHub checkpoint folders at the file level (no ``adapters`` needed): the pickle rule, refusals that name what
is unsupported, failed loads that change nothing. The outputs against AdapterHub itself: test_adapters_interop.py."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import reference_impl
from architectures.registry import get
from conformance.models import plain_model
from reference_impl.interop import adapterhub, adapterhub_models
from reports.claims import ROW_ARCHES


BERT = get("bert")


class _TouchOnUnpickle:
    """Unpickling this creates ``marker``: proof that a loader ran code from a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _model(config: object = "lora", seed: int = 0):
    model = reference_impl.init(plain_model(BERT))
    model.add_adapter("a", config)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        for param in model.adapter_parameters("a").values():
            param.copy_(torch.randn(param.shape, generator=generator))
    return model


def _weights(model, name: str = "a") -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.adapter_parameters(name).items()}


def _hub_folder(tmp_path: Path, config: object = "lora") -> Path:
    folder = tmp_path / "hub"
    _model(config, seed=1).save_adapter(folder, "a", format="adapters")
    return folder


def _as_pickle(folder: Path) -> None:
    safe = folder / adapterhub.WEIGHTS_NAME
    torch.save(load_file(str(safe)), folder / adapterhub.PICKLE_NAME)
    safe.unlink()


def _edit_config(folder: Path, **changes: object) -> None:
    path = folder / adapterhub.CONFIG_NAME
    payload = json.loads(path.read_text())
    payload["config"].update(changes)
    path.write_text(json.dumps(payload))


def test_the_layout_is_adapterhubs(tmp_path):
    folder = _hub_folder(tmp_path, "double_seq_bn")
    assert sorted(p.name for p in folder.iterdir()) == ["adapter.safetensors", "adapter_config.json"]
    payload = json.loads((folder / "adapter_config.json").read_text())
    assert payload["name"] == "a" and payload["model_type"] == "bert" and payload["version"].startswith("adapters.")
    assert "architecture" not in payload["config"] and payload["config"]["mh_adapter"] is True
    keys = set(load_file(str(folder / "adapter.safetensors")))
    assert "encoder.layer.0.attention.output.adapters.a.adapter_down.0.weight" in keys
    assert "encoder.layer.1.output.adapters.a.adapter_up.bias" in keys


def test_a_pickle_is_read_with_the_weights_only_unpickler(tmp_path, monkeypatch):
    folder = _hub_folder(tmp_path)
    _as_pickle(folder)
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    model = reference_impl.init(plain_model(BERT))
    loaded = model.load_adapter(folder)
    assert calls == [True]
    assert (loaded.name, loaded.missing_keys, loaded.unexpected_keys) == ("a", [], [])
    assert all(torch.equal(model.adapter_parameters("a")[k], v) for k, v in _weights(_model(seed=1)).items())


def test_a_pickle_with_code_is_refused_and_changes_nothing(tmp_path):
    folder = _hub_folder(tmp_path)
    (folder / adapterhub.WEIGHTS_NAME).unlink()
    marker = tmp_path / "unpickled"
    (folder / adapterhub.PICKLE_NAME).write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    model = _model()
    before = _weights(model)
    with pytest.raises(ValueError, match=r"weights-only loader refuses.*use_safetensors=True"):
        model.load_adapter(folder, overwrite_ok=True)
    assert not marker.exists(), "loading ran code from the pickle"
    assert list(model.adapters_config) == ["a"]
    assert all(torch.equal(model.adapter_parameters("a")[k], v) for k, v in before.items())


@pytest.mark.parametrize(
    ("config", "changes", "named"),
    [
        ("lora", {"use_gating": True}, "use_gating"),
        ("lora", {"use_dora": True}, "use_dora"),
        ("lora", {"composition_mode": "scale"}, "IA3"),
        ("lora", {"attn_matrices": ["q", "o"]}, "attn_matrices 'o'"),
        ("lora", {"architecture": "prompt_tuning"}, "prompt_tuning"),
        ({"config": "prefix_tuning", "prefix_length": 4}, {"use_gating": True}, "use_gating"),
        ({"config": "prefix_tuning", "prefix_length": 4}, {"leave_out": [1]}, "leave_out"),
        ("lora", {"a_new_field": 1}, "a_new_field"),
        ("ia3", {"alpha": 2}, "alpha=2"),
        ("seq_bn", {"phm_layer": True}, "phm_layer"),
        ("seq_bn", {"inv_adapter": "nice"}, "inv_adapter"),
        ("seq_bn", {"scaling": "learned"}, "scaling"),
        ("seq_bn", {"non_linearity": "leakyrelu"}, "leakyrelu"),
    ],
)
def test_an_unsupported_config_is_refused_by_name_and_changes_nothing(tmp_path, config, changes, named):
    folder = _hub_folder(tmp_path, config)
    _edit_config(folder, **changes)
    model = _model()
    before = _weights(model)
    with pytest.raises(ValueError, match=named):
        model.load_adapter(folder, load_as="a", overwrite_ok=True)
    assert list(model.adapters_config) == ["a"] and model.adapters_config["a"].name == "lora"
    assert all(torch.equal(model.adapter_parameters("a")[k], v) for k, v in before.items())


def test_weights_of_another_size_are_refused_and_change_nothing(tmp_path):
    folder = _hub_folder(tmp_path)
    path = folder / adapterhub.WEIGHTS_NAME
    tensors = load_file(str(path))
    key = next(k for k in tensors if k.endswith("lora_A"))
    tensors[key] = torch.zeros(3, 5)
    save_file(tensors, str(path))
    model = _model()
    before = _weights(model)
    with pytest.raises(ValueError, match="has shape"):
        model.load_adapter(folder, overwrite_ok=True)
    assert all(torch.equal(model.adapter_parameters("a")[k], v) for k, v in before.items())


def test_missing_and_unexpected_tensors_are_reported(tmp_path):
    folder = _hub_folder(tmp_path)
    path = folder / adapterhub.WEIGHTS_NAME
    tensors = load_file(str(path))
    gone = "encoder.layer.0.attention.self.query.loras.a.lora_B"
    del tensors[gone]
    tensors["encoder.layer.0.attention.self.key.loras.a.lora_B"] = torch.zeros(4, 8)
    save_file(tensors, str(path))
    loaded = reference_impl.init(plain_model(BERT)).load_adapter(folder)
    assert loaded.missing_keys == ["encoder.layer.0.attention.self.query.adapter_site.lora.{name}.lora_B.weight"]
    assert loaded.unexpected_keys == ["encoder.layer.0.attention.self.key.loras.a.lora_B"]


def test_keys_saved_from_a_model_with_a_head_load_too(tmp_path):
    """AdapterHub saves from a model with a head under the base model's prefix (``bert.``)."""
    folder = _hub_folder(tmp_path)
    path = folder / adapterhub.WEIGHTS_NAME
    save_file({f"bert.{k}": v for k, v in load_file(str(path)).items()}, str(path))
    loaded = reference_impl.init(plain_model(BERT, "BertForSequenceClassification")).load_adapter(folder)
    assert (loaded.missing_keys, loaded.unexpected_keys) == ([], [])


def test_a_model_of_another_type_is_refused(tmp_path):
    folder = _hub_folder(tmp_path)
    payload = json.loads((folder / adapterhub.CONFIG_NAME).read_text())
    (folder / adapterhub.CONFIG_NAME).write_text(json.dumps({**payload, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="saved from a 'gpt2' model"):
        reference_impl.init(plain_model(BERT)).load_adapter(folder)


@pytest.mark.parametrize(
    "config",
    [
        {"config": "prefix_tuning", "leave_out": [0]},
        "dora",
        {"config": "compacter", "reduction_factor": 8},
        "seq_bn_inv",
        "prompt_tuning",
        "mam",
    ],
)
def test_saving_an_unsupported_method_is_refused_and_writes_nothing(tmp_path, config):
    model = reference_impl.init(plain_model(BERT))
    model.add_adapter("a", config)
    with pytest.raises(ValueError, match="AdapterHub checkpoint interop supports"):
        model.save_adapter(tmp_path / "out", "a", format="adapters")
    assert not (tmp_path / "out").exists()


def test_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        _model().save_adapter(tmp_path / "out", "a", format="peft")


def test_a_save_in_one_layout_replaces_the_other(tmp_path):
    """Both layouts write adapter_config.json: a folder never keeps one layout's weights beside the other's config."""
    model = _model()
    model.save_adapter(tmp_path, "a", format="adapters")
    model.save_adapter(tmp_path, "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    model.save_adapter(tmp_path, "a", format="adapters")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter.safetensors", "adapter_config.json"]


def _model_with_head(head: str = "classification", **options):
    model = reference_impl.AutoAdapterModel.from_config(BERT.make_config())
    model.add_adapter("a", "lora")
    getattr(model, {"classification": "add_classification_head", "tagging": "add_tagging_head"}.get(head, head))(
        "a", **options
    )
    with torch.no_grad():
        for param in model.heads["a"].parameters():
            param.normal_(0.0, 0.5)
    return model.eval()


@pytest.mark.parametrize(("head", "options"), [("classification", {"num_labels": 3, "layers": 3}), ("tagging", {})])
def test_a_head_round_trips_through_adapterhubs_layout(head, options, tmp_path):
    """AdapterHub's head files (head_config.json, model_head.safetensors keyed heads.<name>.<index>) beside the
    adapter; read back, the same logits and labels (tests/test_adapters_interop.py checks them against AdapterHub)."""
    model = _model_with_head(head, **options)
    model.save_adapter(tmp_path, "a", format="adapters")
    saved = json.loads((tmp_path / "head_config.json").read_text())
    assert saved["config"]["head_type"] == head and saved["name"] == "a"
    assert all(key.startswith("heads.a.") for key in load_file(tmp_path / "model_head.safetensors"))
    other = reference_impl.AutoAdapterModel.from_config(BERT.make_config())
    other.load_state_dict(model.state_dict(), strict=False)  # the same base weights
    loaded = other.load_adapter(tmp_path, set_active=True)
    assert (loaded.missing_keys, loaded.unexpected_keys) == ([], [])
    assert other.heads_config["a"] == model.heads_config["a"]
    inputs = {"input_ids": torch.randint(0, 99, (2, 7), generator=torch.Generator().manual_seed(0))}
    model.set_active_adapters("a")
    torch.testing.assert_close(other.eval()(**inputs).logits, model(**inputs).logits)


def test_a_head_adapterhub_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    model = _model_with_head("add_masked_lm_head")
    with pytest.raises(ValueError, match="masked_lm head is not written in AdapterHub's layout"):
        model.save_adapter(tmp_path / "out", "a", format="adapters")
    with pytest.raises(ValueError, match="masked_lm head is not written in AdapterHub's layout"):
        model.save_head(tmp_path / "out", "a", format="adapters")
    assert not (tmp_path / "out").exists()
    normed = _model_with_head("classification", layers=2)
    normed.heads["a"].config.__dict__["layer_norm"] = True  # as a head of a layer-normed family would have it
    with pytest.raises(ValueError, match="layer_norm"):
        normed.save_head(tmp_path / "out", "a", format="adapters")
    assert not (tmp_path / "out").exists()
    model.save_adapter(tmp_path / "out", "a", format="adapters", with_head=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["adapter.safetensors", "adapter_config.json"]


def test_an_adapterhub_head_the_reference_does_not_convert_is_refused_and_changes_nothing(tmp_path):
    _model_with_head("classification").save_adapter(tmp_path, "a", format="adapters")
    payload = json.loads((tmp_path / "head_config.json").read_text())
    payload["config"]["head_type"] = "causal_lm"  # AdapterHub's LM heads have layer norms and tied decoders
    (tmp_path / "head_config.json").write_text(json.dumps(payload))
    other = reference_impl.AutoAdapterModel.from_config(BERT.make_config())
    with pytest.raises(ValueError, match="head type 'causal_lm' is not converted.*with_head=False"):
        other.load_adapter(tmp_path)
    assert not other.adapters_config and not other.heads
    assert other.load_adapter(tmp_path, with_head=False).name == "a"
    assert not other.heads


def test_a_model_type_not_mapped_is_refused(tmp_path):
    """AdapterHub's module names differ per model type: only those checked against AdapterHub are mapped."""
    model = reference_impl.init(plain_model(get("opt")))  # OPT: not in AdapterHub's model table
    model.add_adapter("a", "lora")
    with pytest.raises(ValueError, match=r"maps albert, bart, .* models, not 'opt'"):
        model.save_adapter(tmp_path / "out", "a", format="adapters")
    assert not (tmp_path / "out").exists()


def test_every_model_type_of_adapterhubs_table_is_mapped():
    """The map covers every architecture of AdapterHub's published model table (a new row needs checking against
    AdapterHub in tests/test_adapters_interop.py before it is added)."""
    assert set(adapterhub_models.MODEL_TYPES) == {arch for archs in ROW_ARCHES.values() for arch in archs}


@pytest.mark.parametrize(
    ("arch", "config", "why"),
    [
        ("gptj", "seq_bn", "with placement='adapterhub' only"),  # docs/adapters/placement.md
        ("gemma2", {"config": "par_bn", "placement": "definition"}, "with placement='adapterhub' only"),
        ("albert", "double_seq_bn", "passes the attention's input"),
        ("encoder_decoder", {"config": "lora", "leave_out": [1]}, "numbers a BERT2BERT's encoder and decoder"),
        ("deberta", "lora", r"rows as \[q \| k \| v\] blocks"),
        ("qwen2", "prefix_tuning", "has no prefix tuning for this model"),
    ],
)
def test_what_adapterhub_runs_otherwise_is_refused(arch, config, why, tmp_path):
    """Where AdapterHub's own forward departs from what its file says, the map refuses, saying why, and writes
    nothing."""
    model = reference_impl.init(plain_model(get(arch)))
    model.add_adapter("a", config)
    with pytest.raises(ValueError, match=why):
        model.save_adapter(tmp_path / "out", "a", format="adapters")
    assert not (tmp_path / "out").exists()


def test_adapterhubs_placement_is_saved_and_read_back(tmp_path):
    """On GPT-J a bottleneck placed as AdapterHub places it is written in its layout, and comes back placed so."""
    model = reference_impl.init(plain_model(get("gptj")))
    model.add_adapter("a", {"config": "seq_bn", "placement": "adapterhub"})
    model.save_adapter(tmp_path / "out", "a", format="adapters")
    assert "placement" not in json.loads((tmp_path / "out" / "adapter_config.json").read_text())["config"]
    again = reference_impl.init(plain_model(get("gptj")))
    again.load_adapter(tmp_path / "out")
    assert again.adapters_config["a"] == model.adapters_config["a"]


def test_a_module_tree_adapterhub_never_saw_is_refused(tmp_path):
    """AdapterHub 1.3 names ViT's tensors by transformers 4's modules; transformers 5 builds ViT otherwise."""
    model = reference_impl.init(plain_model(get("vit")))
    if model.adapter_state.layout.name not in adapterhub_models.OTHER_TREES:
        pytest.skip(f"this transformers builds ViT as AdapterHub's ({model.adapter_state.layout.name}): mapped")
    model.add_adapter("a", "lora")
    with pytest.raises(ValueError, match="transformers 5 builds ViT and BEiT with other modules"):
        model.save_adapter(tmp_path / "out", "a", format="adapters")
    assert not (tmp_path / "out").exists()


def test_llama_ffn_lora_flags_are_swapped_as_adapterhub_names_them(tmp_path):
    """AdapterHub's Llama calls up_proj (the reference's FFN input, intermediate_lora) 'output': the reference's
    intermediate LoRA is written as its output_lora, on the same weights, and read back as it was."""
    model = reference_impl.init(plain_model(get("llama")))
    model.add_adapter("a", {"config": "lora", "selfattn_lora": False, "intermediate_lora": True})
    model.save_adapter(tmp_path, "a", format="adapters")
    config = json.loads((tmp_path / adapterhub.CONFIG_NAME).read_text())["config"]
    assert (config["intermediate_lora"], config["output_lora"]) == (False, True)
    assert {key.split(".loras.")[0] for key in load_file(str(tmp_path / adapterhub.WEIGHTS_NAME))} == {
        f"layers.{i}.mlp.up_proj" for i in range(len(model.layers))
    }
    target = reference_impl.init(plain_model(get("llama")))
    target.load_adapter(tmp_path)
    assert target.adapters_config["a"] == model.adapters_config["a"]


def test_adapterhubs_model_type_names_are_read(tmp_path):
    """AdapterHub writes transformers' model type ("xlm-roberta"), the reference's spec says "xlm_roberta"."""
    model = reference_impl.init(plain_model(get("xlm_roberta")))
    model.add_adapter("a", "seq_bn")
    model.save_adapter(tmp_path, "a", format="adapters")
    assert json.loads((tmp_path / adapterhub.CONFIG_NAME).read_text())["model_type"] == "xlm-roberta"
    reference_impl.init(plain_model(get("xlm_roberta"))).load_adapter(tmp_path)


def test_a_file_whose_tensors_map_nowhere_is_refused(tmp_path):
    """The config fits but no tensor is where this model keeps it: a wrong file, not a load with everything missing."""
    model = reference_impl.init(plain_model(get("gpt2")))
    model.add_adapter("a", "lora")
    model.save_adapter(tmp_path, "a", format="adapters")
    payload = json.loads((tmp_path / adapterhub.CONFIG_NAME).read_text())
    (tmp_path / adapterhub.CONFIG_NAME).write_text(json.dumps({**payload, "model_type": "bert"}))
    target = _model()
    with pytest.raises(ValueError, match="no tensor of the AdapterHub adapter 'a' is where a 'bert' model keeps it"):
        target.load_adapter(tmp_path, load_as="b")
    assert list(target.adapters_config) == ["a"]


@pytest.mark.parametrize(
    ("version", "written", "expected"),
    [
        (None, {"non_linearity": "gelu_orig"}, {"non_linearity": "gelu"}),  # adapter-transformers' exact GELU
        ("adapters.1.0.1", {"r": 8, "alpha": 16}, {"alpha": 8}),  # LoRA's scaling before 1.1.0 was 1
        ("adapters.1.3.0", {"r": 8, "alpha": 16}, {"alpha": 16}),
    ],
)
def test_older_files_are_read_as_adapterhub_reads_them(tmp_path, version, written, expected):
    config = "seq_bn" if "non_linearity" in written else "lora"
    folder = _hub_folder(tmp_path, config)
    path = folder / adapterhub.CONFIG_NAME
    payload = json.loads(path.read_text())
    payload["config"].update(written)
    payload.pop("version")
    path.write_text(json.dumps({**payload, **({"version": version} if version else {})}))
    model = reference_impl.init(plain_model(BERT))
    model.load_adapter(folder)
    assert {k: getattr(model.adapters_config["a"], k) for k in expected} == expected


def test_adapter_transformers_gelu_is_refused(tmp_path):
    """Without a version, "gelu" is the tanh approximation (gelu_new), which the reference's bottleneck lacks."""
    folder = _hub_folder(tmp_path, "seq_bn")
    path = folder / adapterhub.CONFIG_NAME
    payload = json.loads(path.read_text())
    payload["config"]["non_linearity"] = "gelu"
    payload.pop("version")
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="gelu_new"):
        reference_impl.init(plain_model(BERT)).load_adapter(folder)
