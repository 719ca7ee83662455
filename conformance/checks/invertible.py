"""Invertible adapters: an exact inverse, run once per token-embedding call and undone once before the LM head."""

from __future__ import annotations

import pytest
import torch

from architectures.heads import LM_HEADS
from conformance import impl
from conformance.models import adapter_model, make_inputs, randomize_adapter, run


OUTPUT_EMBEDDING_SUFFIXES = ("LMHeadModel", "ForCausalLM", "ForMaskedLM", "ForConditionalGeneration")
KINDS = ("nice", "glow")


def _lm_class(spec) -> str | None:
    """A head class with output embeddings (an LM head), or None (vision models have none)."""
    by_name = next((name for name in spec.head_classes if name.endswith(OUTPUT_EMBEDDING_SUFFIXES)), None)
    # a family may name its LM class otherwise (BertGenerationDecoder): its head map says what it is
    by_head = [m.class_name for m in (spec.heads.mapped if spec.heads else ()) if m.head_type in LM_HEADS]
    return by_name or next(iter(by_head), None)


def _with_invertible(spec, seed: int, kind: str = "nice", class_name: str | None = None, names=("a",)):
    model = adapter_model(spec, class_name)
    for offset, name in enumerate(names):
        config = {"config": "seq_bn_inv", "reduction_factor": 4, "inv_adapter": kind}
        model.add_adapter(name, impl.make_config(config))
        randomize_adapter(model, name, seed + offset)
    return model


def _invertible(model, name: str):
    (module,) = model.get_adapter(name)[-1].values()
    return module


def _embedding_modules(model, spec):
    """The distinct modules that embed the tokens (or patches), read off transformers' own accessors."""
    base = model.base_model
    hosts = [base.get_encoder(), base.get_decoder()] if spec.is_encoder_decoder else [base]
    found = []
    for host in hosts:
        module = host.get_input_embeddings()
        if all(module is not other for other in found):
            found.append(module)
    return found


def _count(module, counter: list, kwargs: bool = False):
    if kwargs:
        return module.register_forward_hook(lambda m, a, k, o: counter.append(bool(k.get("rev"))), with_kwargs=True)
    return module.register_forward_hook(lambda *_: counter.append(1))


@pytest.mark.feature("invertible")
class InvertibleChecks:
    @pytest.mark.parametrize("kind", KINDS)
    def test_inverse_undoes_forward(self, spec, check_seed, kind):
        model = _with_invertible(spec, check_seed, kind)
        block = _invertible(model, "a")
        x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(check_seed))
        with torch.no_grad():
            y = block(x)
            assert not torch.allclose(y, x, atol=1e-3), "an invertible adapter with random weights did nothing"
            torch.testing.assert_close(block(y, rev=True), x, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(block(block(x, rev=True)), x, atol=1e-5, rtol=1e-5)

    def test_runs_once_per_embedding_and_head_call(self, spec, check_seed):
        class_name = _lm_class(spec)
        model = _with_invertible(spec, check_seed, class_name=class_name)
        model.set_active_adapters("a")
        directions, embedded, heads = [], [], []
        handles = [_count(_invertible(model, "a"), directions, kwargs=True)]
        handles += [_count(module, embedded) for module in _embedding_modules(model, spec)]
        head = model.get_output_embeddings()
        if head is not None:
            handles.append(_count(head, heads))
        run(model, make_inputs(spec, check_seed))
        for handle in handles:
            handle.remove()
        assert embedded, "the token embeddings did not run"
        assert directions.count(False) == len(embedded), "the forward direction must run once per embedding call"
        assert directions.count(True) == len(heads), "the inverse must run once per LM-head call, and only there"
        if class_name is not None:
            assert len(heads) == 1

    def test_lm_head_input_is_inverted(self, spec, check_seed):
        class_name = _lm_class(spec)
        if class_name is None:  # no output embeddings (vision): only the embeddings may be hooked, nothing inverted
            model = adapter_model(spec, spec.head_classes[0])
            before = {n: (len(m._forward_hooks), len(m._forward_pre_hooks)) for n, m in model.named_modules()}
            model.add_adapter("a", impl.make_config({"config": "seq_bn_inv", "reduction_factor": 4}))
            embeddings = {id(m) for m in _embedding_modules(model, spec)}
            for name, module in model.named_modules():
                if name in before and id(module) not in embeddings:
                    assert len(module._forward_pre_hooks) == before[name][1], f"{name} got a pre-hook to invert"
            return
        model = _with_invertible(spec, check_seed, class_name=class_name, names=("a", "b"))
        head = model.get_output_embeddings()
        seen = {}
        head.register_forward_pre_hook(lambda m, args: seen.__setitem__("raw", args[0].detach()), prepend=True)
        head.register_forward_pre_hook(lambda m, args: seen.__setitem__("inverted", args[0].detach()))
        model.set_active_adapters(impl.composition().Stack("a", "b"))
        run(model, make_inputs(spec, check_seed))
        with torch.no_grad():  # a Stack runs a then b on the embeddings, so b is undone first
            expected = _invertible(model, "a")(_invertible(model, "b")(seen["raw"], rev=True), rev=True)
        torch.testing.assert_close(seen["inverted"], expected, atol=1e-6, rtol=1e-6)
        assert not torch.allclose(seen["inverted"], seen["raw"], atol=1e-4)

    def test_embeddings_are_transformed(self, spec, check_seed):
        model = _with_invertible(spec, check_seed)
        (embeddings, *_) = _embedding_modules(model, spec)
        seen = []
        embeddings.register_forward_hook(lambda m, a, out: seen.append(out.detach()), prepend=True)
        observed = []
        embeddings.register_forward_hook(lambda m, a, out: observed.append(out.detach()))
        model.set_active_adapters("a")
        run(model, make_inputs(spec, check_seed))
        with torch.no_grad():
            torch.testing.assert_close(observed[0], _invertible(model, "a")(seen[0]))

    def test_delete_removes_every_hook(self, spec, check_seed):
        class_name = _lm_class(spec)
        model = adapter_model(spec, class_name)
        hooks = {n: (len(m._forward_hooks), len(m._forward_pre_hooks)) for n, m in model.named_modules()}
        for name in ("a", "b"):
            model.add_adapter(name, impl.make_config({"config": "seq_bn_inv", "reduction_factor": 4}))
        model.delete_adapter("a")
        assert model.get_adapter("b")[-1], "deleting a removed b's invertible adapter"
        model.delete_adapter("b")
        after = {n: (len(m._forward_hooks), len(m._forward_pre_hooks)) for n, m in model.named_modules()}
        assert after == hooks, "the embedding and LM-head hooks must go with the last invertible adapter"
