"""The reference's ReFT and invertible-adapter tensors under canonical names: written values read back as written,
and LoReFT's derived ``R`` is written through only when it can be the effective matrix."""

from __future__ import annotations

import pytest
import torch

from architectures.bert import SPEC as BERT
from conformance import impl
from conformance.models import adapter_model, hidden_size, make_inputs, randomize_adapter, run
from conformance.weights import parse


def _adapter(config: dict, seed: int = 0):
    model = adapter_model(BERT)
    model.add_adapter("a", impl.make_config(config), set_active=True)
    randomize_adapter(model, "a", seed)
    return model


def _shuffled(weights: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(value.shape, generator=generator) for name, value in weights.items()}


@pytest.mark.parametrize(
    "config",
    [
        {"config": "noreft", "r": 2, "prefix_positions": 2, "suffix_positions": 2},
        {"config": "direft", "r": 2, "tied_weights": True, "suffix_positions": 1},
    ],
    ids=["untied", "tied"],
)
def test_reft_weights_read_back_as_written(config):
    model = _adapter(config)
    written = _shuffled(impl.adapter_weights(model, "a"), seed=1)
    impl.set_adapter_weights(model, "a", written)
    read = impl.adapter_weights(model, "a")
    assert read.keys() == written.keys()
    for name, value in written.items():
        torch.testing.assert_close(read[name], value, atol=0, rtol=0, msg=name)


def test_loreft_writes_an_orthonormal_r_through_and_refuses_any_other():
    model = _adapter({"config": "loreft", "r": 2})
    inputs = make_inputs(BERT, 0)
    name = next(n for n in impl.adapter_weights(model, "a") if parse(n).tensor == "R")
    rows = torch.linalg.qr(torch.randn(hidden_size(BERT), 2, generator=torch.Generator().manual_seed(2)))[0].T
    before = run(model, inputs)
    impl.set_adapter_weights(model, "a", {name: rows})
    torch.testing.assert_close(impl.adapter_weights(model, "a")[name], rows, atol=1e-6, rtol=0)
    assert not torch.allclose(run(model, inputs), before), "writing R changed nothing"
    with pytest.raises(KeyError, match=name.replace(".", r"\.")):
        impl.set_adapter_weights(model, "a", {name: 2 * rows})


@pytest.mark.parametrize("kind", ["nice", "glow"])
def test_coupling_weights_read_back_as_written(kind):
    model = _adapter({"config": "seq_bn_inv", "reduction_factor": 4, "inv_adapter": kind})
    coupling = {n: v for n, v in impl.adapter_weights(model, "a").items() if parse(n).site == "invertible"}
    assert {parse(n).tensor for n in coupling} == {
        f"{subnet}_{layer}{bias}" for subnet in "FG" for layer in ("down", "up") for bias in ("", "_bias")
    }
    written = _shuffled(coupling, seed=3)
    impl.set_adapter_weights(model, "a", written)
    read = impl.adapter_weights(model, "a")
    for name, value in written.items():
        torch.testing.assert_close(read[name], value, atol=0, rtol=0, msg=name)
