"""``inv_adapter_placement="embeddings_output"``: the invertible adapter transforms the output of the module that embeds
the input (AdapterHub's placement on ALBERT, at the embedding width, before the encoder projects it to the hidden
size). The reference's output equals the plain model with the coupling block's formula (the suite's oracle's
``Coupling``, from the adapter's canonical tensors) hooked on that module; the bottleneck part starts as the identity
(``init_weights="mam"``) and stays so."""

from __future__ import annotations

import pytest
import torch

import reference_impl
from architectures.live import build_model
from architectures.registry import get
from conformance import impl
from conformance.impls.reference import IMPLEMENTATION as REFERENCE
from conformance.models import main_output, make_inputs
from conformance.oracles.invertible import ACTIVATIONS, SITE, Coupling
from conformance.weights import parse


CONFIG = {"config": "seq_bn_inv", "reduction_factor": 4, "init_weights": "mam"}


def _with_invertible(spec, placement: str):
    model = reference_impl.init(build_model(spec))
    model.add_adapter("a", {**CONFIG, "inv_adapter_placement": placement})
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, param in sorted(model.adapter_parameters("a").items()):
            if key.startswith("adapter_site."):  # the model-level coupling block; the bottlenecks stay the identity
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    model.set_active_adapters("a")
    return model


def _output(model, spec):
    with torch.no_grad():
        return main_output(model(**make_inputs(spec, 0)))


def test_on_albert_the_block_transforms_the_embeddings_output_at_the_embedding_width():
    spec = get("albert")
    model = _with_invertible(spec, "embeddings_output")
    before = impl.current()
    impl.use(REFERENCE)
    try:
        weights = impl.adapter_weights(model, "a")
    finally:
        impl.use(before)
    tensors = {parse(n).tensor: w for n, w in weights.items() if parse(n).layer is None and parse(n).site == SITE}
    coupling = Coupling("nice", tensors, ACTIVATIONS["relu"]())
    coupling.check_shapes(spec.make_config().embedding_size, 2)
    plain = build_model(spec)
    plain.embeddings.register_forward_hook(lambda module, args, output: coupling.forward(output))
    expected = _output(plain, spec)
    torch.testing.assert_close(_output(model, spec), expected, atol=1e-5, rtol=0)
    assert not torch.allclose(expected, _output(build_model(spec), spec), atol=1e-3), "the block did nothing"


def test_on_bert_it_is_the_stack_input():
    spec = get("bert")
    torch.testing.assert_close(
        _output(_with_invertible(spec, "embeddings_output"), spec),
        _output(_with_invertible(spec, "stack_input"), spec),
        atol=1e-6,
        rtol=0,
    )


def test_a_model_without_an_embedding_module_refuses_it():
    model = reference_impl.init(build_model(get("gpt2")))
    with pytest.raises(ValueError, match="embeds its input in no module of its own"):
        model.add_adapter("a", {**CONFIG, "inv_adapter_placement": "embeddings_output"})
    assert "a" not in model.adapters_config
