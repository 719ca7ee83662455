"""``BnConfig.placement="adapterhub"`` on GPT-J and Gemma 2 / 3: the reference's outputs equal the formula of
AdapterHub's placement, applied by hooks on the plain model, and differ from the definition's (the default, which
stays as it was: the suite checks it on these architectures)."""

from __future__ import annotations

import pytest
import torch

from architectures.registry import get
from conformance import impl
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run


SEQ_BN = {"config": "seq_bn", "reduction_factor": 4, "mh_adapter": True}  # both sites: original_ln_before
PAR_BN = {"config": "par_bn", "reduction_factor": 4}


def _adapted(arch, config, placement, names=("a",)):
    model = adapter_model(get(arch))
    for seed, name in enumerate(names):
        model.add_adapter(name, impl.make_config({**config, "placement": placement}))
        randomize_adapter(model, name, seed)
    model.set_active_adapters(names[0] if len(names) == 1 else list(names))
    return model.eval()


def _bottleneck(weights, layer, site, scaling=1.0):
    """The adapter's f(x) = scaling * up(relu(down(x))) at one site, from its canonical tensors."""

    def f(x):
        w = {k: weights[f"{layer}.{site}.{k}"] for k in ("down.weight", "down.bias", "up.weight", "up.bias")}
        down = torch.relu(x @ w["down.weight"].T + w["down.bias"])
        return scaling * (down @ w["up.weight"].T + w["up.bias"])

    return f


def _gptj_by_formula(weights, parallel):
    """A plain GPT-J whose blocks output AdapterHub's r' + m + f_ffn(...), r' = r + a + f_att(a + r) (sequential) or
    r' = r + a (parallel, no attention adapter): the FFN's adapter reads m + r' or r', not m + r or r."""
    model = plain_model(get("gptj")).eval()
    for index, block in enumerate(model.h):
        seen = {}
        block.ln_1.register_forward_pre_hook(lambda m, args, seen=seen: seen.update(r=args[0]))
        block.attn.register_forward_hook(lambda m, args, out, seen=seen: seen.update(a=out[0]))
        block.mlp.register_forward_hook(lambda m, args, out, seen=seen: seen.update(m=out))

        def replace(module, args, out, seen=seen, index=index):
            r, a, m = seen["r"], seen["a"], seen["m"]
            ffn = _bottleneck(weights, index, "ffn_adapter", scaling=4.0 if parallel else 1.0)  # par_bn's: 4
            if parallel:
                r_prime = r + a
                result = r_prime + m + ffn(r_prime)
            else:
                r_prime = r + a + _bottleneck(weights, index, "attention_adapter")(a + r)
                result = r_prime + m + ffn(m + r_prime)
            return (result, *out[1:]) if isinstance(out, tuple) else result

        block.register_forward_hook(replace)
    return model


def _gemma_by_formula(arch, weights):
    """A plain Gemma whose o_proj / down_proj output h + f(N(h + r)), N the norm after the sub-layer (the model then
    applies N and adds r): the definition's adapter reads h + r."""
    model = plain_model(get(arch)).eval()
    for index, layer in enumerate(model.layers):
        seen = {}
        layer.input_layernorm.register_forward_pre_hook(lambda m, args, seen=seen: seen.update(attn=args[0]))
        layer.pre_feedforward_layernorm.register_forward_pre_hook(lambda m, args, seen=seen: seen.update(ffn=args[0]))
        for proj, norm, key, site in (
            (layer.self_attn.o_proj, layer.post_attention_layernorm, "attn", "attention_adapter"),
            (layer.mlp.down_proj, layer.post_feedforward_layernorm, "ffn", "ffn_adapter"),
        ):
            f = _bottleneck(weights, index, site)
            proj.register_forward_hook(
                lambda m, args, h, seen=seen, key=key, norm=norm, f=f: h + f(norm(h + seen[key]))
            )
    return model


@pytest.mark.parametrize("config", (SEQ_BN, PAR_BN), ids=("seq_bn", "par_bn"))
def test_gptj_ffn_adapter_reads_the_attention_output_too(config):
    spec = get("gptj")
    inputs = make_inputs(spec, 0)
    hub = _adapted("gptj", config, "adapterhub")
    weights = impl.adapter_weights(hub, "a")
    expected = run(_gptj_by_formula(weights, parallel=config is PAR_BN), inputs)
    torch.testing.assert_close(run(hub, inputs), expected, atol=1e-5, rtol=0)
    definition = _adapted("gptj", config, "definition")
    impl.set_adapter_weights(definition, "a", weights)
    assert (run(definition, inputs) - expected).abs().max() > 1e-2


@pytest.mark.parametrize("arch", ("gemma2", "gemma3_text"))
def test_gemma_sequential_adapter_reads_the_post_norm(arch):
    inputs = make_inputs(get(arch), 0)
    hub = _adapted(arch, SEQ_BN, "adapterhub")
    weights = impl.adapter_weights(hub, "a")
    expected = run(_gemma_by_formula(arch, weights), inputs)
    torch.testing.assert_close(run(hub, inputs), expected, atol=1e-5, rtol=0)
    definition = _adapted(arch, SEQ_BN, "definition")
    impl.set_adapter_weights(definition, "a", weights)
    assert (run(definition, inputs) - expected).abs().max() > 1e-2


# where AdapterHub's placement is the definition's: without original_ln_before (Houlsby: the adapter reads h alone) on
# all three; a parallel adapter (it reads r) on Gemma
@pytest.mark.parametrize(
    ("arch", "config"),
    [
        *[(arch, {"config": "double_seq_bn", "reduction_factor": 4}) for arch in ("gptj", "gemma2", "gemma3_text")],
        *[(arch, PAR_BN) for arch in ("gemma2", "gemma3_text")],
    ],
)
def test_placements_agree_where_adapterhub_follows_the_definition(arch, config):
    inputs = make_inputs(get(arch), 0)
    hub = _adapted(arch, config, "adapterhub")
    definition = _adapted(arch, config, "definition")
    impl.set_adapter_weights(definition, "a", impl.adapter_weights(hub, "a"))
    torch.testing.assert_close(run(hub, inputs), run(definition, inputs), atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ("gptj", "gemma2"))
@pytest.mark.parametrize("block", ("Parallel", "BatchSplit"))
def test_batch_blocks_give_each_slice_its_own_adapter(arch, block):
    """Each branch (Parallel) or slice of the batch (BatchSplit) equals its adapter alone on those rows: the FFN's
    residual input (r plus the attention output on GPT-J) is cut with the batch."""
    composition = impl.composition()
    inputs = make_inputs(get(arch), 0)
    model = _adapted(arch, SEQ_BN, "adapterhub", names=("a", "b"))
    rows = next(iter(inputs.values())).shape[0]
    singles = []
    for name in ("a", "b"):
        model.set_active_adapters(name)
        singles.append(run(model, inputs))
    if block == "Parallel":
        model.set_active_adapters(composition.Parallel("a", "b"))
        torch.testing.assert_close(run(model, inputs), torch.cat(singles), atol=1e-5, rtol=0)
    else:
        model.set_active_adapters(composition.BatchSplit("a", "b", batch_sizes=[1, rows - 1]))
        torch.testing.assert_close(run(model, inputs), torch.cat([singles[0][:1], singles[1][1:]]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("config", (SEQ_BN, {**SEQ_BN, "config": "seq_bn_inv"}), ids=("seq_bn", "seq_bn_inv"))
def test_gptj_hooks_go_with_the_last_adapterhub_ffn_adapter(config):
    spec = get("gptj")
    inputs = make_inputs(spec, 0)
    plain = run(plain_model(spec).eval(), inputs)
    model = _adapted("gptj", config, "adapterhub", names=("a", "b"))
    attention = [block.attn for block in model.h]
    assert all(hasattr(module, "_adapter_hub_ffn_residual") for module in attention)
    model.delete_adapter("a")
    assert all(hasattr(module, "_adapter_hub_ffn_residual") for module in attention), "b still needs them"
    model.delete_adapter("b")
    assert not any(hasattr(module, "_adapter_hub_ffn_residual") for module in attention)
    assert not any(module._forward_hooks for module in attention)
    torch.testing.assert_close(run(model, inputs), plain, atol=0, rtol=0)


def test_gptj_refuses_ffn_adapters_of_both_placements():
    model = _adapted("gptj", SEQ_BN, "adapterhub")
    with pytest.raises(ValueError, match="one placement"):
        model.add_adapter("d", impl.make_config(SEQ_BN))
    model.add_adapter("d", impl.make_config({**SEQ_BN, "output_adapter": False}))  # the attention's: the same


def test_gemma_refuses_original_ln_after_false():
    model = adapter_model(get("gemma2"))
    with pytest.raises(ValueError, match="original_ln_after"):
        model.add_adapter("a", impl.make_config({**SEQ_BN, "original_ln_after": False, "placement": "adapterhub"}))
