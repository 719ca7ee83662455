"""The suite's gated-prefix oracle checked against AdapterHub where the reference declares UniPELT a gap.

On transformers 4.x the BERT family, ALBERT, DistilBERT, BEiT and GPT-J compute attention in their own forward; the
reference cannot gate a prefix there, so the oracle (``_gated_scores`` in ``conformance/oracles/prefix_tuning.py``)
has no second implementation from us. AdapterHub is one where its gate is the same for every token: it averages the
gate over the sequence (``unipelt_gates.py``), which changes nothing when the gate's weight is zero. So: UniPELT with
the prefix gates at a constant (keys and values apart) and the bottleneck and LoRA gates closed (their parts differ
by AdapterHub's defects and placements, not by the prefix), and with every gate closed (a prefix of zeros, still
attended): AdapterHub's output must equal the oracle's. Runs only where ``adapters`` is installed.
"""

from __future__ import annotations

import pytest
import torch


pytest.importorskip("adapters")

from architectures.registry import get  # noqa: E402
from conformance import impl  # noqa: E402
from conformance.methods import METHODS  # noqa: E402
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run  # noqa: E402
from conformance.oracles.run import expected_output  # noqa: E402


ARCHS = ("albert", "beit", "bert", "distilbert", "electra", "gptj", "roberta", "xlm_roberta")
CLOSED = -40.0  # sigmoid(-40): the part is off
PREFIX_GATES = {"closed": (CLOSED, CLOSED), "open": (1.5, -0.5)}  # key gate, value gate: sigmoid 0.82, 0.38


@pytest.fixture
def adapterhub():
    from conformance.impls.adapters import IMPLEMENTATION

    before = impl.current()
    impl.use(IMPLEMENTATION)
    yield
    impl.use(before)


def _gates(weights: dict[str, torch.Tensor], key_gate: float, value_gate: float) -> dict[str, torch.Tensor]:
    """Every gate's weight zero (the same gate for every token); the prefix's bias per row, every other closed."""
    gates = {}
    for name, value in weights.items():
        if name.endswith(".gate_weight"):
            gates[name] = torch.zeros_like(value)
        elif name.endswith(".prefix.gate_bias"):
            gates[name] = torch.tensor([key_gate, value_gate][-value.numel() :], dtype=value.dtype)
        elif name.endswith(".gate_bias"):
            gates[name] = torch.full_like(value, CLOSED)
    return gates


@pytest.mark.parametrize("prefix_gates", sorted(PREFIX_GATES))
@pytest.mark.parametrize("arch", ARCHS)
def test_gated_prefix_oracle_agrees_with_adapterhub(arch, prefix_gates, adapterhub):
    spec, config = get(arch), METHODS["unipelt"].config
    inputs = make_inputs(spec, 7)
    model = adapter_model(spec)
    model.add_adapter("a", impl.make_config(config), set_active=True)
    randomize_adapter(model, "a", 7)
    gates = _gates(impl.adapter_weights(model, "a"), *PREFIX_GATES[prefix_gates])
    assert any(".prefix." in name for name in gates), "found no prefix gate"
    impl.set_adapter_weights(model, "a", gates)
    weights = impl.adapter_weights(model, "a")
    plain = plain_model(spec)
    output = run(model.eval(), inputs)
    assert not torch.allclose(output, run(plain, inputs), atol=1e-4), "the prefix did nothing"
    torch.testing.assert_close(output, expected_output(plain, spec, config, weights, inputs), atol=1e-5, rtol=0)
