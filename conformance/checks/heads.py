"""Flexible prediction heads: add, delete and switch heads, forward shapes and losses, labels, save and load, heads
that follow the active adapters. Parametrized over (architecture, head type): ``test_...[bert-classification]``."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from architectures.heads import HEAD_TYPES, head_types, transformers_head_types
from architectures.live import MODEL_SEED
from conformance import impl
from conformance.capabilities import requires
from conformance.heads import HEADS, HeadUnderTest
from conformance.methods import METHODS
from conformance.models import BATCH, DECODER_LEN, SEQ_LEN, plain_model, randomize_adapter


CHOICES = 2
LABELS = {0: "negative", 1: "neutral", 2: "positive"}


# ----- models, inputs, labels -----


@cache
def _pristine(spec: Any, attn_implementation: str | None = None) -> Any:
    config = spec.make_config()
    if attn_implementation is not None:
        config._attn_implementation = attn_implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(MODEL_SEED)
        return impl.adapter_model_from_config(spec, config).eval()


def flex_model(spec: Any, attn_implementation: str | None = None) -> Any:
    """A copy of the tiny adapter model with flexible heads, without heads or adapters; built with
    ``attn_implementation`` where given (transformers 4.x builds some families' attention classes per implementation,
    DistilBERT's among them, and switching later changes only the config)."""
    return copy.deepcopy(_pristine(spec, attn_implementation))


def add_head(model: Any, head: HeadUnderTest, name: str, **kwargs: Any) -> None:
    getattr(model, head.add)(name, **{**head.kwargs, **kwargs})


def head_inputs(spec: Any, kind: str, seed: int, batch: int = BATCH) -> dict[str, torch.Tensor]:
    """Inputs for a head of type ``kind``: padding at the end of the first example (text), an <eos> ending every
    input (encoder-decoders: their sequence heads read it), (batch, choices, length) for multiple choice."""
    config = spec.make_config()
    generator = torch.Generator().manual_seed(seed)
    if not spec.modality.token_inputs:  # pixels or audio: nothing to pad
        return spec.modality.make_inputs(config, generator, batch, SEQ_LEN, DECODER_LEN, spec.config_aliases, 3)
    rows = batch * CHOICES if kind == "multiple_choice" else batch
    ids = torch.randint(3, spec.config_value(config, "vocab_size"), (rows, SEQ_LEN), generator=generator)
    mask = torch.ones(rows, SEQ_LEN, dtype=torch.long)
    if spec.is_encoder_decoder:
        ids[:, -1] = config.eos_token_id
    elif config.pad_token_id is not None:
        ids[0, -2:] = config.pad_token_id
        mask[0, -2:] = 0
    if kind == "multiple_choice":
        ids, mask = ids.view(batch, CHOICES, SEQ_LEN), mask.view(batch, CHOICES, SEQ_LEN)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if kind == "seq2seq_lm":
        vocab = spec.config_value(config, "vocab_size")
        inputs["decoder_input_ids"] = torch.randint(3, vocab, (batch, DECODER_LEN), generator=generator)
    return inputs


def head_labels(spec: Any, kind: str, num_labels: int | None, seed: int, batch: int = BATCH) -> dict[str, Any]:
    config = spec.make_config()
    generator = torch.Generator().manual_seed(seed + 1)
    vocab = getattr(config, "vocab_size", None)

    def ints(high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=generator)

    if kind in ("classification", "image_classification"):
        return {"labels": ints(num_labels, (batch,))}
    if kind == "multilabel_classification":
        return {"labels": ints(2, (batch, num_labels)).float()}
    if kind == "tagging":
        return {"labels": ints(num_labels, (batch, SEQ_LEN))}
    if kind == "multiple_choice":
        return {"labels": ints(CHOICES, (batch,))}
    if kind == "question_answering":
        return {"start_positions": ints(SEQ_LEN, (batch,)), "end_positions": ints(SEQ_LEN, (batch,))}
    if kind == "masked_lm":
        labels = ints(vocab, (batch, SEQ_LEN))
        labels[:, ::2] = -100  # only some positions are masked
        return {"labels": labels}
    if kind == "causal_lm":
        return {"labels": ints(vocab, (batch, SEQ_LEN))}
    return {"labels": torch.randint(3, vocab, (batch, DECODER_LEN), generator=generator)}  # seq2seq_lm targets


def head_parameters(model: Any, name: str) -> dict[str, torch.nn.Parameter]:
    """Every parameter of head ``name``, a weight it shares with the base model (tied embeddings) included."""
    prefix = f"heads.{name}."
    return {k: p for k, p in model.named_parameters(remove_duplicate=False) if k.startswith(prefix)}


def logits_of(output: Any) -> torch.Tensor:
    """The logits of any head output; question answering stacks start and end logits on the last axis."""
    if getattr(output, "start_logits", None) is not None:
        return torch.stack((output.start_logits, output.end_logits), dim=-1)
    return output.logits


def expected_shape(spec: Any, kind: str, num_labels: int | None) -> tuple[int, ...]:
    vocab = getattr(spec.make_config(), "vocab_size", None)
    return {
        "classification": (BATCH, num_labels),
        "multilabel_classification": (BATCH, num_labels),
        "image_classification": (BATCH, num_labels),
        "tagging": (BATCH, SEQ_LEN, num_labels),
        "multiple_choice": (BATCH, CHOICES),
        "question_answering": (BATCH, SEQ_LEN, 2),
        "masked_lm": (BATCH, SEQ_LEN, vocab),
        "causal_lm": (BATCH, SEQ_LEN, vocab),
        "seq2seq_lm": (BATCH, DECODER_LEN, vocab),
    }[kind]


def expected_loss(kind: str, logits: torch.Tensor, labels: dict[str, Any]) -> torch.Tensor:
    """The loss transformers' classes compute for these logits and labels, written out independently."""
    if kind == "question_answering":
        start, end = logits[..., 0], logits[..., 1]
        return (F.cross_entropy(start, labels["start_positions"]) + F.cross_entropy(end, labels["end_positions"])) / 2
    target = labels["labels"]
    if kind == "multilabel_classification":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "causal_lm":
        logits, target = logits[:, :-1], target[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)


def run(model: Any, inputs: dict[str, Any], **kwargs: Any) -> torch.Tensor:
    with torch.no_grad():
        return logits_of(model(**inputs, **kwargs))


def adapter_method(spec: Any) -> Any:
    """An adapter method the architecture supports, for the checks that combine heads with adapters."""
    return next(m for m in METHODS.values() if not spec.gap_reason(m.feature, m.name))


def other_head(spec: Any) -> HeadUnderTest:
    """A second head type of the architecture, to have two heads of different shapes."""
    offered = head_types(spec)
    return HEADS["classification" if "classification" in offered else offered[0]]


# ----- the checks -----


@pytest.mark.feature("heads")
class HeadChecks:
    @pytest.fixture(autouse=True)
    def _head_offered(self, spec, head, request):
        # a head type transformers has but the implementation declares it does not offer here: a gap, not a failure
        impl.skip_if_declared_gap(request, impl.head_gap_key(spec, head.name))

    def test_add_head_builds_and_activates(self, spec, head):
        model = flex_model(spec)
        add_head(model, head, "h")
        assert "h" in model.heads and model.active_head == "h"
        params = head_parameters(model, "h")
        assert params, f"adding a {head} head registered no parameters under heads.h"
        assert impl.head_config(model, "h")["head_type"] == head.name
        try:
            add_head(model, head, "h")
        except ValueError as err:
            assert "'h'" in str(err)
        else:
            raise AssertionError("adding a head under a taken name must raise ValueError")
        add_head(model, head, "h", overwrite_ok=True)
        replaced = head_parameters(model, "h")
        assert replaced.keys() == params.keys()
        shared = {id(p) for p in model.base_model.parameters()}
        assert all(replaced[k] is not params[k] for k in params if id(params[k]) not in shared)

    def test_forward_shape_and_loss(self, spec, head, check_seed, request):
        impl.skip_if_declared_gap(request, f"{head.name}_head_loss")
        model = flex_model(spec)
        add_head(model, head, "h")
        num_labels = head.kwargs.get("num_labels")
        inputs = head_inputs(spec, head.name, check_seed)
        labels = head_labels(spec, head.name, num_labels, check_seed)
        output = model(**inputs, **labels)
        logits = logits_of(output)
        assert tuple(logits.shape) == expected_shape(spec, head.name, num_labels)
        assert output.loss is not None and output.loss.dim() == 0, "labels must give a scalar loss"
        torch.testing.assert_close(output.loss, expected_loss(head.name, logits, labels))
        output.loss.backward()
        # (a multiple-choice output bias shifts every choice alike: its gradient is zero, but it must be there)
        grads = {k: p.grad for k, p in head_parameters(model, "h").items()}
        assert all(g is not None for g in grads.values()), f"the loss does not reach the head's weights {grads}"
        assert all(g.abs().sum() > 0 for k, g in grads.items() if k.endswith("weight")), "no gradient on a weight"

    def test_several_heads_and_switching(self, spec, head, check_seed):
        model = flex_model(spec)
        second = other_head(spec)
        add_head(model, head, "h")
        add_head(model, second, "other", num_labels=5) if second.labelled else add_head(model, second, "other")
        assert model.active_head == "other", "a new head becomes the active one"
        own = run(model, head_inputs(spec, head.name, check_seed), head="h")
        assert tuple(own.shape) == expected_shape(spec, head.name, head.kwargs.get("num_labels"))
        inputs = head_inputs(spec, second.name, check_seed)
        assert run(model, inputs).shape == run(model, inputs, head="other").shape
        model.active_head = "h"
        torch.testing.assert_close(run(model, head_inputs(spec, head.name, check_seed)), own, rtol=0, atol=0)
        with pytest.raises(ValueError, match="nope"):
            model.active_head = "nope"
        with pytest.raises(ValueError, match="nope"):
            model(**inputs, head="nope")

    def test_delete_head_leaves_nothing(self, spec, head, check_seed):
        model = flex_model(spec)
        before = dict(model.state_dict())
        add_head(model, head, "h")
        add_head(model, other_head(spec), "keep")
        model.active_head = "h"
        model.delete_head("h")
        assert "h" not in model.heads and model.active_head is None
        assert not any(k.startswith("heads.h.") for k in model.state_dict())
        assert {k for k in model.state_dict() if not k.startswith("heads.keep.")} == before.keys()
        assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items()), "the base model changed"

    def test_deleting_a_missing_head_is_refused(self, spec, head, check_seed):
        model = flex_model(spec)
        add_head(model, head, "h")
        model.delete_head("h")
        with pytest.raises(ValueError, match="'h'"):
            model.delete_head("h")

    def test_head_follows_adapter_setup(self, spec, head, check_seed):
        model = flex_model(spec)
        method = adapter_method(spec)
        for name in ("a", "b"):
            model.add_adapter(name, impl.make_config(method.config))
            randomize_adapter(model, name, check_seed)
        add_head(model, head, "a")
        add_head(model, head, "b")
        model.set_active_adapters("a")
        assert model.active_head == "a", "activating adapter 'a' must activate its head 'a'"
        inputs = head_inputs(spec, head.name, check_seed)
        with impl.adapter_setup("b"):
            in_context = run(model, inputs)
        assert model.active_head == "a", "AdapterSetup must not change the active head"
        model.set_active_adapters("b")
        assert model.active_head == "b"
        torch.testing.assert_close(in_context, run(model, inputs), rtol=0, atol=0)
        model.train_adapter("a")
        assert model.active_head == "a"
        trainable = {k for k, p in model.named_parameters() if p.requires_grad}
        assert set(impl.adapter_parameters(model, "a")) <= trainable
        adapters = {id(p) for p in impl.adapter_parameters(model, "a").values()}
        base = {id(p) for p in model.base_model.parameters()} - adapters
        frozen = [k for k, p in head_parameters(model, "a").items() if id(p) not in base and not p.requires_grad]
        assert not frozen, f"train_adapter must leave the head trainable; frozen: {frozen}"
        assert not any(p.requires_grad for p in model.parameters() if id(p) in base), "the base model must be frozen"

    def test_save_load_head(self, spec, head, check_seed, tmp_path):
        source = flex_model(spec)
        labelled = {"num_labels": len(LABELS), "id2label": LABELS} if head.labelled else {}
        add_head(source, head, "h", **labelled)
        _randomize_head(source, "h", check_seed)
        source.save_head(str(tmp_path), "h", **impl.serialization_options())
        assert any(p.suffix == ".safetensors" for p in tmp_path.iterdir()), "heads must be saved as safetensors"
        target = flex_model(spec)
        loaded = impl.load_head(target, str(tmp_path), load_as="copy")
        assert loaded.name == "copy" and target.active_head == "copy"
        assert loaded.missing_keys == [] and loaded.unexpected_keys == []
        inputs = head_inputs(spec, head.name, check_seed)
        torch.testing.assert_close(run(target, inputs), run(source, inputs), rtol=0, atol=0)
        assert impl.head_config(target, "copy") == impl.head_config(source, "h")
        if head.labelled:
            assert target.get_labels_dict("copy") == LABELS
            assert target.get_labels("copy") == [LABELS[i] for i in sorted(LABELS)]

    def test_loading_a_head_over_an_existing_one_is_refused(self, spec, head, tmp_path):
        source = flex_model(spec)
        add_head(source, head, "h")
        source.save_head(str(tmp_path), "h", **impl.serialization_options())
        target = flex_model(spec)
        impl.load_head(target, str(tmp_path), load_as="copy")
        with pytest.raises(ValueError, match="exists"):
            target.load_head(str(tmp_path), load_as="copy", **impl.serialization_options())

    @requires("labelled")
    def test_new_head_names_default_labels(self, spec, head):
        model = flex_model(spec)
        add_head(model, head, "h")
        count = head.kwargs["num_labels"]
        assert model.get_labels_dict("h") == {i: f"LABEL_{i}" for i in range(count)}
        assert impl.head_config(model, "h")["label2id"] == {f"LABEL_{i}": i for i in range(count)}

    def test_save_adapter_with_head(self, spec, head, check_seed, tmp_path):
        source = flex_model(spec)
        source.add_adapter("a", impl.make_config(adapter_method(spec).config))
        randomize_adapter(source, "a", check_seed)
        add_head(source, head, "a", **({"id2label": LABELS, "num_labels": 3} if head.labelled else {}))
        _randomize_head(source, "a", check_seed)
        source.set_active_adapters("a")
        source.save_adapter(str(tmp_path / "with"), "a", **impl.serialization_options())
        source.save_adapter(str(tmp_path / "without"), "a", with_head=False, **impl.serialization_options())

        target = flex_model(spec)
        loaded = impl.load_adapter(target, str(tmp_path / "with"), load_as="b", set_active=True)
        assert loaded.name == "b" and "b" in target.heads and target.active_head == "b"
        assert loaded.missing_keys == [] and loaded.unexpected_keys == []
        inputs = head_inputs(spec, head.name, check_seed)
        torch.testing.assert_close(run(target, inputs), run(source, inputs), rtol=0, atol=0)
        if head.labelled:
            assert target.get_labels_dict("b") == LABELS
        bare = flex_model(spec)
        bare.load_adapter(str(tmp_path / "without"), **impl.serialization_options())
        assert "a" in bare.adapters_config and "a" not in bare.heads, "with_head=False must not save the head"

    def test_full_model_save_load(self, spec, head, check_seed, tmp_path):
        source = flex_model(spec)
        source.add_adapter("a", impl.make_config(adapter_method(spec).config))
        randomize_adapter(source, "a", check_seed)
        add_head(source, head, "a", **({"id2label": LABELS, "num_labels": 3} if head.labelled else {}))
        add_head(source, other_head(spec), "other")
        _randomize_head(source, "a", check_seed)
        source.set_active_adapters("a")
        source.save_pretrained(tmp_path)
        target = impl.load_adapter_model(tmp_path).eval()
        assert set(target.heads) == {"a", "other"}
        assert {n: impl.head_config(target, n) for n in target.heads} == {
            n: impl.head_config(source, n) for n in source.heads
        }
        assert set(target.adapters_config) == {"a"}
        for name, kind in (("a", head.name), ("other", other_head(spec).name)):
            inputs = head_inputs(spec, kind, check_seed)
            with impl.adapter_setup(
                "a"
            ):  # what is active after loading: test_save_pretrained_restores_the_active_setup
                expected = run(source, inputs, head=name)
                torch.testing.assert_close(run(target, inputs, head=name), expected, rtol=0, atol=0)

    def test_full_model_save_load_restores_the_active_head(self, spec, head, check_seed, tmp_path):
        source = flex_model(spec)
        source.add_adapter("a", impl.make_config(adapter_method(spec).config))
        add_head(source, head, "a")
        add_head(source, other_head(spec), "other")
        source.set_active_adapters("a")
        source.save_pretrained(tmp_path)
        assert impl.load_adapter_model(tmp_path).active_head == "a"

    @requires("lm")
    def test_lm_head_ties_like_the_static_class(self, spec, head):
        entry = next((m for m in spec.heads.mapped if m.head_type == head.name), None) if spec.heads else None
        # a class declared a gap (its logits do not convert, e.g. soft-capped) still shows how it ties its weight
        gaps = spec.heads.gaps if spec.heads else {}
        gap = next((c for c in sorted(gaps) if head.name in (transformers_head_types(spec, c) or ())), None)
        class_name = entry.class_name if entry else gap
        if class_name is None:
            pytest.fail(f"{spec.name} offers a {head} head but maps no static class to it; map one in the spec")
        static = plain_model(spec, class_name)
        tied = static.get_output_embeddings().weight is static.get_input_embeddings().weight
        model = flex_model(spec)
        add_head(model, head, "a")
        embeddings = model.get_input_embeddings().weight
        # the output projection: the head's last weight of the embedding matrix's shape (names are the implementation's)
        shaped = [
            p for _, p in model.heads["a"].named_parameters(remove_duplicate=False) if p.shape == embeddings.shape
        ]
        assert shaped, f"the {head} head has no weight of the embeddings' shape {tuple(embeddings.shape)}"
        output = shaped[-1]
        assert (output is embeddings) == tied, f"{class_name} ties its output weight: {tied}"
        model.add_adapter("a", impl.make_config(adapter_method(spec).config))
        model.train_adapter("a")
        assert not embeddings.requires_grad, "train_adapter must keep the (tied) embeddings frozen"


@pytest.mark.feature("heads")
class HeadTypeChecks:
    def test_only_offered_head_types_can_be_added(self, spec, check_seed, request):
        model = flex_model(spec)
        # a type the implementation declares absent here (a run-time gap key) must be refused like one not offered
        offered = [kind for kind in head_types(spec) if impl.offers_head(spec, kind)]
        assert offered, f"{spec.name} offers no head type"
        for kind in HEAD_TYPES:
            head = HEADS[kind]
            if kind in offered:
                add_head(model, head, f"h_{kind}")
                continue
            with pytest.raises(ValueError, match=kind):
                add_head(model, head, f"h_{kind}")
            assert f"h_{kind}" not in model.heads
        impl.skip_if_declared_gap(request, "labels_without_a_head")  # after the head types are checked
        bare = flex_model(spec)
        with pytest.raises(ValueError, match="head"):
            bare(**head_inputs(spec, offered[0], check_seed), labels=torch.zeros(BATCH, dtype=torch.long))


def _randomize_head(model: Any, name: str, seed: int) -> None:
    """Non-trivial head weights (biases and norms included), so that a lost or swapped weight shows."""
    generator = torch.Generator().manual_seed(seed)
    embeddings = getattr(model.get_input_embeddings(), "weight", None)
    with torch.no_grad():
        for _, param in sorted(model.heads[name].named_parameters()):
            if param is not embeddings:
                param.add_(torch.randn(param.shape, generator=generator) * 0.1)
