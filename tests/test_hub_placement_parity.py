"""Composition blocks with the bottlenecks placed as AdapterHub places them on GPT-J and Gemma 2 / 3
(``placement="adapterhub"``): the reference agrees with AdapterHub ``adapters`` on two adapters with the same weights;
and single adapters with placement options the parity test's methods leave at their defaults, on every architecture
where the placements differ. Runs only where ``adapters`` is installed (the ``ah`` venv). Single adapters of each
method: tests/test_adapters_parity.py.

Left out: Average (AdapterHub averages normalised weights, docs/adapters/repro/composition_blocks.py #2), Stack and
Parallel of par_bn (#1), Parallel on Gemma (AdapterHub refuses it there).
"""

from __future__ import annotations

import pytest
import torch


pytest.importorskip("adapters")

from adapterhub_workarounds import zero_bias_on  # noqa: E402

from architectures.registry import get  # noqa: E402
from conformance import impl  # noqa: E402
from conformance.models import make_inputs, plain_model, randomize_adapter, run  # noqa: E402


SEQ_BN = {"config": "seq_bn", "reduction_factor": 4, "mh_adapter": True}
PAR_BN = {"config": "par_bn", "reduction_factor": 4}


def _block(composition, block, rows, length):
    return {
        "Stack": lambda: composition.Stack("a", "b"),
        "Parallel": lambda: composition.Parallel("a", "b"),
        "BatchSplit": lambda: composition.BatchSplit("a", "b", batch_sizes=[1, rows - 1]),
        "Split": lambda: composition.Split("a", "b", splits=[3, length - 3]),
    }[block]()


def _output(implementation, spec, config, weights, block, inputs):
    impl.use(implementation)
    model = implementation.init(plain_model(spec), spec)
    model.conformance_spec = spec
    for name in ("a", "b"):
        model.add_adapter(name, implementation.make_config(config))
        if weights is None:
            randomize_adapter(model, name, {"a": 1, "b": 2}[name])
        else:
            implementation.set_adapter_weights(model, name, weights[name])
    rows, length = inputs["input_ids"].shape
    model.set_active_adapters(_block(implementation.composition(), block, rows, length))
    drawn = {name: implementation.adapter_weights(model, name) for name in ("a", "b")}
    return run(model.eval(), inputs), drawn


CASES = [
    *[("gptj", "seq_bn", block) for block in ("Stack", "Parallel", "BatchSplit", "Split")],
    *[("gptj", "par_bn", block) for block in ("BatchSplit", "Split")],
    *[(arch, "seq_bn", block) for arch in ("gemma2", "gemma3_text") for block in ("Stack", "BatchSplit", "Split")],
]


@pytest.mark.parametrize(("arch", "method", "block"), CASES)
def test_blocks_agree_with_adapterhub(arch, method, block):
    from conformance.impls.adapters import IMPLEMENTATION as adapters_impl
    from conformance.impls.reference import IMPLEMENTATION as reference_impl

    before = impl.current()
    try:
        spec = get(arch)
        config = SEQ_BN if method == "seq_bn" else PAR_BN
        inputs = make_inputs(spec, 0)
        hub_placed = {**config, "placement": "adapterhub"}
        expected, weights = _output(reference_impl, spec, hub_placed, None, block, inputs)
        got, _ = _output(adapters_impl, spec, config, weights, block, inputs)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
        definition, _ = _output(reference_impl, spec, config, weights, block, inputs)
        assert (definition - expected).abs().max() > 1e-2, "the placements agree here: the case checks nothing new"
    finally:
        impl.use(before)


# single adapters with the placement options the parity test's methods leave at their defaults: an adapter after the
# attention that reads h + r (original_ln_before), and one whose own residual is its normed input
OPTIONS = {
    "mh_adapter": {"config": "seq_bn", "reduction_factor": 4, "mh_adapter": True},
    "residual_after_ln": {"config": "seq_bn", "reduction_factor": 4, "residual_before_ln": False},
}


AROUND_INIT = {"modernbert": zero_bias_on("Wqkv")}  # adapters.init's defect there


def _single(implementation, spec, config, weights, inputs):
    impl.use(implementation)
    plain = plain_model(spec)
    if spec.name in AROUND_INIT:
        AROUND_INIT[spec.name](plain)
    model = implementation.init(plain, spec)
    model.conformance_spec = spec
    model.add_adapter("a", implementation.make_config(config))
    if weights is None:
        randomize_adapter(model, "a", 1)
    else:
        implementation.set_adapter_weights(model, "a", weights)
    model.set_active_adapters("a")
    return run(model.eval(), inputs), implementation.adapter_weights(model, "a")


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("arch", ["beit", "gemma2", "gemma3_text", "gptj", "modernbert", "phi"])
def test_placement_options_agree_with_adapterhub(arch, option):
    from conformance.impls.adapters import IMPLEMENTATION as adapters_impl
    from conformance.impls.reference import IMPLEMENTATION as reference_impl

    before = impl.current()
    try:
        spec = get(arch)
        config = OPTIONS[option]
        inputs = make_inputs(spec, 0)
        expected, weights = _single(reference_impl, spec, {**config, "placement": "adapterhub"}, None, inputs)
        got, _ = _single(adapters_impl, spec, config, weights, inputs)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
        definition, _ = _single(reference_impl, spec, config, weights, inputs)
        assert (definition - expected).abs().max() > 1e-2, "the placements agree here: the case checks nothing new"
    finally:
        impl.use(before)
