"""Self-tests of the head map (architectures.heads), the head config, the head-class counts of the JSON table, and the
parametrization of head and class-conversion checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from architectures import registry
from architectures.bert import SPEC as BERT
from architectures.heads import HeadMap, StaticHead, classes_under_test, coverage, derive, static_classes
from architectures.live import build_model, model_class
from reference_impl.heads import HeadConfig, from_static, to_static
from reports.head_classes import class_of


MODULE = "tests.fake_heads_module"


@pytest.fixture(autouse=True)
def clean_registry():
    registry.load_builtin()
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def bert_with(heads: HeadMap) -> object:
    return replace(BERT, name="bert_heads", module="", heads=heads)


# ----- the head map in the spec -----


@pytest.mark.parametrize(
    ("heads", "fragments"),
    [
        pytest.param(HeadMap((StaticHead("BertForMaskedLM", "mlm"),)), ("'mlm'", "head_type"), id="head-type"),
        pytest.param(HeadMap(gaps={"BertForPreTraining": " "}), ("BertForPreTraining", "reason"), id="gap-reason"),
        pytest.param(
            HeadMap((StaticHead("BertForMaskedLM", "masked_lm"),), gaps={"BertForMaskedLM": "x"}),
            ("BertForMaskedLM", "more than once"),
            id="twice",
        ),
        pytest.param(
            HeadMap((StaticHead("BertForMaskedLM", "masked_lm", layers={"dense": "cls"}),)),
            ("'dense'", "slots"),
            id="slot",
        ),
        pytest.param(
            HeadMap((StaticHead("BertForSequenceClassification", "classification", pooling="mean"),)),
            ("'mean'", "pooling"),
            id="pooling",
        ),
    ],
)
def test_a_bad_head_map_is_refused_naming_field_and_module(heads, fragments):
    with pytest.raises(ValueError) as info:
        registry.register(bert_with(heads), module=MODULE)
    for fragment in (*fragments, MODULE):
        assert fragment in str(info.value)
    assert "bert_heads" not in registry._REGISTRY


def test_an_unmapped_class_registers_and_shows_in_the_coverage():
    spec = registry.register(bert_with(HeadMap((StaticHead("BertForMaskedLM", "masked_lm"),))), module=MODULE)
    found = coverage(spec)
    assert "BertForSequenceClassification" in found.unmapped and "BertForMaskedLM" not in found.unmapped
    assert found.stale == ()
    assert set(classes_under_test(spec)) == set(static_classes(spec))


def test_a_spec_without_head_map_registers_and_maps_nothing():
    spec = registry.register(bert_with(None), module=MODULE)
    assert set(coverage(spec).unmapped) == set(static_classes(spec))


@pytest.mark.parametrize("arch", registry.all_specs(), ids=lambda s: s.name)  # not "spec": the plugin owns that
def test_discovery_finds_every_head_class_the_spec_lists(arch):
    assert set(registry.installed_head_classes(arch)) <= set(static_classes(arch))
    assert arch.base_class not in static_classes(arch)


def test_declared_slots_are_used_and_checked():
    spec = bert_with(HeadMap((StaticHead("BertForMaskedLM", "masked_lm", activation="gelu", layers={
        "hidden.0": "cls.predictions.transform.dense", "output": "cls.predictions.decoder"}),)))  # fmt: skip
    derived = derive(spec, build_model(spec, "BertForMaskedLM"))
    assert dict(derived.slots) == {"hidden.0": "cls.predictions.transform.dense", "output": "cls.predictions.decoder"}
    assert derived.options["layer_norm"] is False  # the declared slots leave the LayerNorm out, on purpose
    wrong = bert_with(HeadMap((StaticHead("BertForMaskedLM", "masked_lm", layers={"output": "cls.nope"}),)))
    with pytest.raises(ValueError, match="cls.nope"):
        derive(wrong, build_model(wrong, "BertForMaskedLM"))


def test_a_head_that_cannot_be_derived_says_so():
    vit = registry.get("vit")
    spec = replace(vit, heads=HeadMap((StaticHead("ViTForMaskedImageModeling", "image_classification"),)))
    with pytest.raises(ValueError, match="cannot derive the head of ViTForMaskedImageModeling"):
        derive(spec, build_model(spec, "ViTForMaskedImageModeling"))


def test_a_multi_layer_head_needs_its_activation():
    spec = bert_with(HeadMap((StaticHead("BertForMaskedLM", "masked_lm"),)))
    with pytest.raises(ValueError, match="activation"):
        derive(spec, build_model(spec, "BertForMaskedLM"))


def test_t5_with_tied_embeddings_converts_both_ways():
    """Original T5 checkpoints tie the LM head to the embeddings and scale the decoder output by d_model**-0.5."""
    from transformers import T5Config

    spec = registry.get("t5")
    config = T5Config(vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)  # fmt: skip
    torch.manual_seed(0)
    static = model_class(spec, "T5ForConditionalGeneration")(config).eval()
    inputs = {"input_ids": torch.randint(3, 128, (2, 7)), "labels": torch.randint(3, 128, (2, 5))}
    flex = from_static(static).eval()
    assert flex.heads["default"].config.scale_hidden and flex.heads["default"].config.tie_output
    with torch.no_grad():
        torch.testing.assert_close(flex(**inputs).logits, static(**inputs).logits)
        back = to_static(flex, "default", "T5ForConditionalGeneration").eval()
        torch.testing.assert_close(back(**inputs).logits, static(**inputs).logits)


# ----- the head config -----


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"head_type": "regression"}, "head_type"),
        ({"head_type": "classification", "layers": 2, "activation": "nope", "pooling": "first"}, "activation"),
        ({"head_type": "classification", "num_labels": 3, "id2label": {0: "a"}, "pooling": "first"}, "id2label"),
        ({"head_type": "masked_lm", "num_labels": 3}, "no labels"),
        ({"head_type": "classification", "pooling": "mean"}, "pooling"),
        ({"head_type": "tagging", "tie_output": True}, "tie_output"),
    ],
)
def test_a_bad_head_config_says_what_is_wrong(fields, fragment):
    with pytest.raises(ValueError, match=fragment):
        HeadConfig(**fields)


def test_head_config_round_trips_through_json():
    import json

    config = HeadConfig("classification", num_labels=2, layers=2, activation="tanh", pooling="last",
                        id2label={0: "no", 1: "yes"})  # fmt: skip
    again = HeadConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.label2id == {"no": 0, "yes": 1}
    with pytest.raises(ValueError, match="nope"):
        HeadConfig.from_dict({**config.to_dict(), "nope": 1})


# ----- reports -----


@pytest.mark.parametrize(
    ("nodeid", "found"),
    [
        ("s.py::T::test_x[bert-BertForMaskedLM]", "BertForMaskedLM"),
        ("s.py::T::test_x[bert]", None),
        ("s.py::T::test_x[bert_copy-BertForMaskedLM]", None),
        ("s.py::T::test_x", None),
    ],
)
def test_the_head_class_of_a_check_id(nodeid, found):
    assert class_of(nodeid, "bert") == found


# ----- parametrization -----

INNER = """
from conformance.checks import ClassConversionChecks, ForwardChecks, HeadChecks, HeadMapChecks


class TestHeads(HeadChecks):
    pass


class TestConversion(ClassConversionChecks):
    pass


class TestMap(HeadMapChecks):
    pass


class TestForward(ForwardChecks):
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    import conformance.checks  # noqa: F401  (imported before pytester snapshots sys.modules)
    import conformance.grid  # noqa: F401
    import conformance.recording  # noqa: F401

    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_inner=INNER)
    return pytester


def collected(result: pytest.RunResult) -> set[str]:
    return {line.split("::", 1)[1] for line in result.outlines if "::" in line}


def test_head_checks_run_per_head_type_and_conversion_per_static_class(inner):
    result = inner.runpytest("--arch=bert", "--feature=heads,class_conversion", "--collect-only", "-q")
    ids = collected(result)
    assert "TestHeads::test_forward_shape_and_loss[bert-masked_lm]" in ids
    assert "TestHeads::test_forward_shape_and_loss[bert-seq2seq_lm]" not in ids  # not a head type BERT offers
    assert "TestConversion::test_static_to_flex_to_static[bert-BertForPreTraining]" in ids  # a gap: skipped
    assert "TestMap::test_head_map_covers_every_static_class[bert]" in ids
    assert not any(i.startswith("TestForward::") for i in ids), "--feature=heads selects no method checks"


def test_method_selection_leaves_head_checks_out(inner):
    ids = collected(inner.runpytest("--arch=bert", "--method=lora", "--collect-only", "-q"))
    assert ids and all(i.startswith("TestForward::") for i in ids)


def test_a_declared_class_gap_is_a_skip_with_its_reason(inner):
    result = inner.runpytest("--arch=bert", "--feature=class_conversion", "-k", "PreTraining", "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*declared gap of bert: BertForPreTraining predicts two tasks at once*"])
