"""Class conversion: a static transformers head class (``BertForSequenceClassification``) becomes the adapter model
with a flexible head and back, with identical logits and losses, labels, tied weights and adapters intact; and the
spec's head map covers every static head class transformers has for the family.

Per static class: ``test_...[gpt2-GPT2LMHeadModel]``; a class the spec declares a gap is skipped with its reason, a
class the spec does not know (new in a transformers version) fails.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from architectures import heads as head_map
from architectures.live import MODEL_SEED, model_class
from conformance import impl
from conformance.checks.heads import LABELS, adapter_method, head_inputs, head_labels, logits_of
from conformance.models import randomize_adapter, tolerance


def mapped_entry(spec: Any, class_name: str) -> head_map.StaticHead:
    entry = spec.heads.entry(class_name) if spec.heads else None
    if entry is None:
        pytest.fail(head_map.unmapped_message(spec, class_name))
    return entry


def static_model(spec: Any, class_name: str, seed: int) -> torch.nn.Module:
    """The tiny static model as its family expects it (labels named, the spec's config values), every weight
    moved off its initial value (biases and norms included) so that a lost or swapped weight shows."""
    entry = mapped_entry(spec, class_name)
    config = spec.make_config()
    for key, value in entry.config.items():
        setattr(config, key, value)
    if entry.head_type in head_map.LABELLED_HEADS:
        config.num_labels = len(LABELS)
        config.id2label, config.label2id = dict(LABELS), {v: k for k, v in LABELS.items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(MODEL_SEED)
        model = model_class(spec, class_name)(config).eval()
    _perturb(model, seed)
    return model


def _perturb(model: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():  # shared (tied) parameters come once
            # a frozen table (Marian's sinusoidal positions) is a function of the config: transformers rebuilds it
            # on load, so a moved one would not survive even transformers' own save and load
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.05)


def forward(model: Any, inputs: dict[str, Any], labels: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        output = model(**inputs, **labels)
    return logits_of(output), output.loss


def inputs_and_labels(spec: Any, static: Any, kind: str, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = head_inputs(spec, kind, seed)
    outputs = None
    if kind in head_map.LABELLED_HEADS:  # the labels fit the static head's outputs (NSP has 2, whatever the config)
        with torch.no_grad():
            outputs = logits_of(static(**inputs)).shape[-1]
    return inputs, head_labels(spec, kind, outputs, seed)


def _tied(model: Any) -> bool:
    output = model.get_output_embeddings()
    return output is not None and output.weight is model.get_input_embeddings().weight


@pytest.mark.feature("class_conversion")
class ClassConversionChecks:
    def test_static_to_flex_to_static(self, spec, static_class, check_seed):
        kind = mapped_entry(spec, static_class).head_type
        atol = tolerance(spec, "class_conversion", 1e-5)
        static = static_model(spec, static_class, check_seed)
        inputs, labels = inputs_and_labels(spec, static, kind, check_seed)
        expected, expected_loss = forward(static, inputs, labels)

        flex = impl.adapter_model_from_static(static, "default").eval()
        assert "default" in flex.heads and flex.active_head == "default"
        logits, loss = forward(flex, inputs, labels)
        torch.testing.assert_close(logits, expected, atol=atol, rtol=1e-5)
        torch.testing.assert_close(loss, expected_loss, atol=atol, rtol=1e-5)
        if kind in head_map.LABELLED_HEADS and expected.shape[-1] == static.config.num_labels:
            assert flex.get_labels_dict("default") == dict(static.config.id2label), "id2label did not survive"
        if _tied(static):
            output = flex.heads["default"].output.weight
            assert output is flex.get_input_embeddings().weight, f"{static_class} ties its output weight; keep it tied"

        # back, after moving every weight of the adapter model: the static model must carry the new weights
        _perturb(flex, check_seed + 1)
        changed, changed_loss = forward(flex, inputs, labels)
        assert not torch.allclose(changed, expected, atol=1e-3), "moving the weights changed nothing"
        back = impl.static_from_adapter_model(flex, "default", static_class).eval()
        assert head_map.transformers_class(back).__name__ == static_class
        logits, loss = forward(back, inputs, labels)
        torch.testing.assert_close(logits, changed, atol=atol, rtol=1e-5)
        torch.testing.assert_close(loss, changed_loss, atol=atol, rtol=1e-5)
        assert _tied(back) == _tied(static), "tied embeddings must stay tied (and untied ones untied)"
        if kind in head_map.LABELLED_HEADS:
            assert dict(back.config.id2label) == flex.get_labels_dict("default")

    def test_static_checkpoint_loads_as_adapter_model(self, spec, static_class, check_seed, tmp_path, request):
        kind = mapped_entry(spec, static_class).head_type
        impl.skip_if_declared_gap(request, impl.head_gap_key(spec, kind))  # no such head type to load it into
        static = static_model(spec, static_class, check_seed)
        inputs, labels = inputs_and_labels(spec, static, kind, check_seed)
        expected, _ = forward(static, inputs, labels)
        static.save_pretrained(tmp_path)
        flex = impl.load_adapter_model(tmp_path).eval()
        assert flex.active_head == "default", "a static checkpoint's head is loaded as head 'default'"
        logits, _ = forward(flex, inputs, labels)
        torch.testing.assert_close(logits, expected, atol=tolerance(spec, "class_conversion", 1e-5), rtol=1e-5)

    def test_adapters_survive_conversion(self, spec, static_class, check_seed, tmp_path):
        kind = mapped_entry(spec, static_class).head_type
        method = adapter_method(spec)
        atol = tolerance(spec, "class_conversion", 1e-5)
        static = impl.init(static_model(spec, static_class, check_seed), spec)
        static.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(static, "a", check_seed)
        static.set_active_adapters("a")
        inputs, labels = inputs_and_labels(spec, static, kind, check_seed)
        expected, _ = forward(static, inputs, labels)

        flex = impl.adapter_model_from_static(static).eval()
        assert set(flex.adapters_config) == {"a"} and impl.active_setup(flex) == impl.active_setup(static)
        torch.testing.assert_close(forward(flex, inputs, labels)[0], expected, atol=atol, rtol=1e-5)
        back = impl.static_from_adapter_model(flex, "default", static_class).eval()
        assert set(back.adapters_config) == {"a"}
        torch.testing.assert_close(forward(back, inputs, labels)[0], expected, atol=atol, rtol=1e-5)

        # an adapter saved from the static class loads into the adapter model (same weight names)
        static.save_adapter(str(tmp_path), "a", **impl.serialization_options())
        other = impl.adapter_model_from_static(static_model(spec, static_class, check_seed)).eval()
        loaded = impl.load_adapter(other, str(tmp_path), set_active=True)
        assert loaded.unexpected_keys == []
        if set(static.get_adapter("a")) == set(other.get_adapter("a")):  # T5's encoder-only classes have fewer layers
            assert loaded.missing_keys == []
        torch.testing.assert_close(forward(other, inputs, labels)[0], expected, atol=atol, rtol=1e-5)


@pytest.mark.feature("class_conversion")
class HeadMapChecks:
    def test_head_map_covers_every_static_class(self, spec):
        assert spec.heads is not None, (
            f"{spec.module or spec.name} has no head map; give ArchitectureSpec(heads=HeadMap(...)) mapping "
            f"{', '.join(head_map.static_classes(spec))}"
        )
        found = head_map.coverage(spec)
        assert not found.unmapped, "; ".join(head_map.unmapped_message(spec, name) for name in found.unmapped)
        assert not found.stale, (
            f"{spec.module or spec.name} names {', '.join(found.stale)}, which the installed transformers does not "
            "have; remove them or gate them on the transformers version"
        )

    def test_head_types_agree_with_transformers(self, spec):
        assert spec.heads is not None, f"{spec.module or spec.name} has no head map"
        for entry in spec.heads.mapped:
            allowed = head_map.transformers_head_types(spec, entry.class_name)
            if allowed is not None:
                assert entry.head_type in allowed, (
                    f"{spec.module}: {entry.class_name} is mapped to a {entry.head_type} head, but transformers "
                    f"files it under {', '.join(sorted(allowed))}"
                )
