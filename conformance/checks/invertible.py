"""Invertible adapters: the coupling block on the token embeddings (or, as an option, the first layer's input) and
its inverse before the LM head, by the definition (``conformance.oracles.invertible``), read through canonical
weights; a Stack undoes its blocks in reverse order; deleting leaves the plain model."""

from __future__ import annotations

import pytest
import torch

from architectures.heads import LM_HEADS
from conformance import impl
from conformance.models import (
    adapter_model,
    base_is_lm,
    head_model_class,
    hidden_size,
    make_inputs,
    plain_model,
    randomize_adapter,
    run,
    tolerance,
)
from conformance.oracles.base import main_tensor
from conformance.oracles.invertible import ACTIVATIONS, Coupling, embedding_modules
from conformance.oracles.run import expected_output
from conformance.weights import parse


OUTPUT_EMBEDDING_SUFFIXES = ("LMHeadModel", "ForCausalLM", "ForMaskedLM", "ForConditionalGeneration")
KINDS = ("nice", "glow")
ORACLE_ATOL = 1e-5


def _config(kind: str) -> dict:
    return {"config": "seq_bn_inv", "reduction_factor": 4, "inv_adapter": kind}


def _lm_class(spec) -> str | None:
    """A head class with output embeddings (an LM head), or None (vision models have none)."""
    gaps = spec.heads.gaps if spec.heads else {}  # a declared gap (MarianForCausalLM) is no model to build
    by_name = next(
        (name for name in spec.head_classes if name.endswith(OUTPUT_EMBEDDING_SUFFIXES) and name not in gaps), None
    )
    # a family may name its LM class otherwise (BertGenerationDecoder): its head map says what it is
    by_head = [m.class_name for m in (spec.heads.mapped if spec.heads else ()) if m.head_type in LM_HEADS]
    return by_name or next(iter(by_head), None) or (spec.base_class if base_is_lm(spec) else None)


def _stack_input_class(spec) -> str:
    """An LM class whose LM head takes the hidden size, the width the block transforms at the first layer, so that its
    inverse can run there; else the base class (ALBERT's factorised LM head takes the narrower embedding size, where
    the block on the first layer's input has no inverse: the forward direction alone is checked)."""
    lm = _lm_class(spec)
    if lm is not None:
        weight = getattr(plain_model(spec, lm).get_output_embeddings(), "weight", None)
        if isinstance(weight, torch.Tensor) and weight.shape[-1] == hidden_size(spec):
            return lm
    return spec.base_class


def _with_invertible(spec, seed: int, kind: str = "nice", class_name: str | None = None, names=("a",)):
    model = adapter_model(spec, class_name)
    for offset, name in enumerate(names):
        model.add_adapter(name, impl.make_config(_config(kind)))
        randomize_adapter(model, name, seed + offset)
    return model


def _coupling(model, name: str, kind: str = "nice") -> Coupling:
    """Adapter ``name``'s coupling block by the definition, from its canonical tensors."""
    weights = impl.adapter_weights(model, name)
    tensors = {parse(k).tensor: v for k, v in weights.items() if parse(k).layer is None}
    return Coupling(kind, tensors, ACTIVATIONS["relu"]())


@pytest.mark.feature("invertible")
class InvertibleChecks:
    @pytest.mark.parametrize("kind", KINDS)
    def test_lm_head_output_matches_the_definition(self, spec, check_seed, kind):
        """With an LM head the inverse runs on the head's input; without one only the forward direction runs."""
        class_name = _lm_class(spec) or head_model_class(spec)
        model = _with_invertible(spec, check_seed, kind, class_name=class_name)
        model.set_active_adapters("a")
        inputs = make_inputs(spec, check_seed)
        weights = impl.adapter_weights(model, "a")
        expected = expected_output(plain_model(spec, class_name), spec, _config(kind), weights, inputs)
        atol = tolerance(spec, "oracle", ORACLE_ATOL)
        torch.testing.assert_close(run(model, inputs), expected, atol=atol, rtol=1e-4)

    def test_stack_input_placement_matches_the_definition(self, spec, check_seed):
        """``inv_adapter_placement="stack_input"`` (AdapterHub's placement): the block on the hidden states the first
        layer takes, after position embeddings and layer norm; the inverse before the LM head as by default."""
        class_name = _stack_input_class(spec)
        config = {**_config("nice"), "inv_adapter_placement": "stack_input"}
        model = adapter_model(spec, class_name)
        model.add_adapter("a", impl.make_config(config))
        randomize_adapter(model, "a", check_seed)
        model.set_active_adapters("a")
        inputs = make_inputs(spec, check_seed)
        weights = impl.adapter_weights(model, "a")
        expected = expected_output(plain_model(spec, class_name), spec, config, weights, inputs)
        atol = tolerance(spec, "oracle", ORACLE_ATOL)
        torch.testing.assert_close(run(model, inputs), expected, atol=atol, rtol=1e-4)

    @pytest.mark.parametrize("kind", KINDS)
    def test_embeddings_are_transformed(self, spec, check_seed, kind):
        model = _with_invertible(spec, check_seed, kind)
        (embeddings, *_) = embedding_modules(model, spec)
        seen, observed = [], []
        embeddings.register_forward_hook(lambda m, a, out: seen.append(main_tensor(out)[0].detach()), prepend=True)
        embeddings.register_forward_hook(lambda m, a, out: observed.append(main_tensor(out)[0].detach()))
        model.set_active_adapters("a")
        run(model, make_inputs(spec, check_seed))
        with torch.no_grad():
            expected = _coupling(model, "a", kind).forward(seen[0])
        assert not torch.allclose(expected, seen[0], atol=1e-4), "a coupling block with random weights did nothing"
        torch.testing.assert_close(observed[0], expected, atol=1e-6, rtol=1e-5)

    def test_stack_runs_in_order_and_inverts_in_reverse(self, spec, check_seed):
        class_name = _lm_class(spec)  # None (vision): no output embeddings, only the forward direction runs
        model = _with_invertible(spec, check_seed, class_name=class_name, names=("a", "b"))
        (embeddings, *_) = embedding_modules(model, spec)
        head = model.get_output_embeddings() if class_name else None
        seen = {}

        def keep(name):
            return lambda module, args, *output: seen.__setitem__(name, main_tensor((*output, *args)[0])[0].detach())

        embeddings.register_forward_hook(keep("embedded"), prepend=True)
        embeddings.register_forward_hook(keep("transformed"))
        if head is not None:
            head.register_forward_pre_hook(keep("raw"), prepend=True)
            head.register_forward_pre_hook(keep("inverted"))
        model.set_active_adapters(impl.composition().Stack("a", "b"))
        run(model, make_inputs(spec, check_seed))
        a, b = _coupling(model, "a"), _coupling(model, "b")
        with torch.no_grad():
            torch.testing.assert_close(
                seen["transformed"], b.forward(a.forward(seen["embedded"])), atol=1e-6, rtol=1e-5
            )
            if head is not None:  # a then b on the embeddings, so b is undone first
                expected = a.inverse(b.inverse(seen["raw"]))
                torch.testing.assert_close(seen["inverted"], expected, atol=1e-6, rtol=1e-5)
                assert not torch.allclose(seen["inverted"], seen["raw"], atol=1e-4)

    def test_delete_leaves_the_plain_model(self, spec, check_seed):
        class_name = _lm_class(spec) or head_model_class(spec)
        model = _with_invertible(spec, check_seed, class_name=class_name, names=("a", "b"))
        inputs = make_inputs(spec, check_seed)
        model.set_active_adapters("b")
        expected_b = expected_output(
            plain_model(spec, class_name), spec, _config("nice"), impl.adapter_weights(model, "b"), inputs
        )
        model.delete_adapter("a")
        atol = tolerance(spec, "oracle", ORACLE_ATOL)
        torch.testing.assert_close(run(model, inputs), expected_b, atol=atol, rtol=1e-4, msg="deleting a changed b")
        model.delete_adapter("b")
        torch.testing.assert_close(run(model, inputs), run(plain_model(spec, class_name), inputs), atol=0, rtol=0)
