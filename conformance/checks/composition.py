"""Composition blocks: each block's output equals the composition oracle's (``conformance.oracles.compose``), which
applies the adapters' definitions as the block says, from their canonical weights on a plain model. Consistency
checks between runs of the implementation (spellings, single-adapter ends, heads, generate) come on top.

Each check class counts towards its block's column and applies to every method the expectations manifest
(``conformance.expectations``) says takes part in that block; for the others it is recorded as not applicable.
The implementation must claim and accept every block the manifest expects, and refuse every other one.
"""

from __future__ import annotations

import pytest
import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import (
    adapter_model,
    make_inputs,
    plain_model,
    prompt_inputs,
    randomize_adapter,
    run,
    tolerance,
)
from conformance.oracles import compose as oracle


ATOL = 1e-5  # batched runs of different sizes may round differently
ORACLE_ATOL = 1e-5


def _two_adapters(spec, method, seed):
    model = adapter_model(spec)
    for offset, name in enumerate(("a", "b")):
        model.add_adapter(name, impl.make_config(method.config))
        randomize_adapter(model, name, seed + offset)
    return model


def _run_with(model, setup, inputs):
    model.set_active_adapters(setup)
    return run(model, inputs)


def _assert_close(actual, expected, what):
    torch.testing.assert_close(actual, expected, atol=ATOL, rtol=0, msg=lambda m: f"{what}: {m}")


def _expected(spec, method, model, tree, inputs, fusions=None):
    """The composition oracle's output for ``tree`` over the model's adapters (all added with ``method.config``)."""
    names = [tree] if isinstance(tree, str) else tree.names()
    adapters = {name: (method.config, impl.adapter_weights(model, name)) for name in names}
    return oracle.composed_output(plain_model(spec), spec, tree, adapters, inputs, fusions)


def _assert_matches_oracle(spec, method, model, tree, inputs, fusions=None):
    """The implementation with ``tree`` active outputs what the composition oracle says; returns that output."""
    expected = _expected(spec, method, model, tree, inputs, fusions)
    actual = _run_with(model, oracle.to_impl(tree, impl.composition()), inputs)
    torch.testing.assert_close(
        actual,
        expected,
        atol=tolerance(spec, "oracle", ORACLE_ATOL),
        rtol=1e-4,
        msg=lambda m: f"{tree!r} against the composition oracle: {m}",
    )
    return expected


def _assert_claimed_and_accepted(spec, method, seed, kind):
    """The manifest expects ``method`` in block ``kind``: the implementation must claim it and accept it."""
    claimed = impl.claimed_blocks(method.config)
    assert claimed is None or kind in claimed, (
        f"the implementation claims {sorted(claimed)} for {method.name}, without {kind}, which the expectations "
        f"manifest expects"
    )
    model = _two_adapters(spec, method, seed)
    try:
        if kind == "Fuse":
            model.add_adapter_fusion(_block(kind))
        model.set_active_adapters(_block(kind))
    except ValueError as err:
        pytest.fail(f"the implementation refused {kind} for {method.name}, which the manifest expects: {err}")
    assert model.active_adapters is not None, f"{kind} was accepted but did not become active"


@pytest.mark.feature("stack")
@requires("block:Stack")
class StackChecks:
    def test_stack_is_claimed_and_accepted(self, spec, method, check_seed):
        _assert_claimed_and_accepted(spec, method, check_seed, "Stack")

    def test_stack_spellings_agree(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        expected = _run_with(model, blocks.Stack("a", "b"), inputs)
        assert torch.equal(_run_with(model, ["a", "b"], inputs), expected)
        assert impl.active_setup(model) == impl.neutral_setup(blocks.Stack("a", "b"))
        restored = blocks.CompositionBlock.from_dict(blocks.Stack("a", "b").to_dict())
        assert torch.equal(_run_with(model, restored, inputs), expected)

    def test_comma_separated_names_are_a_stack(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        assert torch.equal(_run_with(model, "a,b", inputs), _run_with(model, blocks.Stack("a", "b"), inputs))

    @requires("identity_at_init")
    def test_stack_with_identity_adapter_equals_single(self, spec, method, check_seed):
        blocks = impl.composition()
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", check_seed)
        model.add_adapter("identity", impl.make_config(method.identity_config))
        inputs = make_inputs(spec, check_seed)
        single = _run_with(model, "a", inputs)
        _assert_close(_run_with(model, blocks.Stack("a", "identity"), inputs), single, "Stack(a, identity)")
        _assert_close(_run_with(model, blocks.Stack("identity", "a"), inputs), single, "Stack(identity, a)")

    def test_stack_matches_oracle_in_both_orders(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        forward = _assert_matches_oracle(spec, method, model, oracle.Stack("a", "b"), inputs)
        _assert_matches_oracle(spec, method, model, oracle.Stack("b", "a"), inputs)
        single = _expected(spec, method, model, "a", inputs)
        assert not torch.allclose(forward, single, atol=1e-4), "the oracle says b changes nothing after a"

    def test_stack_uses_both_adapters(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        both = _run_with(model, blocks.Stack("a", "b"), inputs)
        for single in ("a", "b"):
            assert not torch.allclose(both, _run_with(model, single, inputs), atol=1e-4), "Stack ignored one of a, b"


@pytest.mark.feature("parallel")
@requires("block:Parallel")
class ParallelChecks:
    def test_parallel_matches_oracle(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        _assert_matches_oracle(spec, method, model, oracle.Parallel("a", "b"), inputs)

    def test_parallel_after_shared_adapter_matches_oracle(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        model.add_adapter("shared", impl.make_config(method.config))
        randomize_adapter(model, "shared", check_seed + 7)
        inputs = make_inputs(spec, check_seed)
        _assert_matches_oracle(spec, method, model, oracle.Stack("shared", oracle.Parallel("a", "b")), inputs)

    def test_parallel_is_claimed_and_accepted(self, spec, method, check_seed):
        _assert_claimed_and_accepted(spec, method, check_seed, "Parallel")

    def test_parallel_branches_equal_single_runs(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        batch = next(iter(inputs.values())).shape[0]
        out = _run_with(model, blocks.Parallel("a", "b"), inputs)
        assert out.shape[0] == 2 * batch, "Parallel returns the batch once per branch"
        _assert_close(out[:batch], _run_with(model, "a", inputs), "branch a")
        _assert_close(out[batch:], _run_with(model, "b", inputs), "branch b")

    def test_parallel_after_shared_adapter(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        model.add_adapter("shared", impl.make_config(method.config))
        randomize_adapter(model, "shared", check_seed + 7)
        inputs = make_inputs(spec, check_seed)
        batch = next(iter(inputs.values())).shape[0]
        out = _run_with(model, blocks.Stack("shared", blocks.Parallel("a", "b")), inputs)
        _assert_close(out[:batch], _run_with(model, blocks.Stack("shared", "a"), inputs), "branch shared→a")
        _assert_close(out[batch:], _run_with(model, blocks.Stack("shared", "b"), inputs), "branch shared→b")

    @requires("has_flexible_heads")
    def test_parallel_branches_run_their_own_heads(self, spec, method, check_seed):
        from architectures.heads import head_types
        from conformance.checks.heads import flex_model, head_inputs
        from conformance.heads import HEADS

        blocks = impl.composition()
        model = flex_model(spec)
        # a head that differs per branch: a classifier with its own label count, or an LM head where none is offered
        offered = head_types(spec)
        kind = next(k for k in ("classification", "image_classification", *offered) if k in offered)
        for offset, name in enumerate(("a", "b")):
            model.add_adapter(name, impl.make_config(method.config))
            randomize_adapter(model, name, check_seed + offset)
            labels = {"num_labels": 2 + offset} if "num_labels" in HEADS[kind].kwargs else {}
            getattr(model, HEADS[kind].add)(name, **labels)
        inputs = head_inputs(spec, kind, check_seed)
        model.eval()
        model.set_active_adapters(blocks.Parallel("a", "b"))
        with torch.no_grad():
            both = model(**inputs)
        assert len(both) == 2, "a Parallel block with a head per branch returns one output per branch"
        for index, name in enumerate(("a", "b")):
            model.set_active_adapters(name)
            with torch.no_grad():
                single = model(**inputs)
            assert model.active_head == name
            _assert_close(both[index].logits, single.logits, f"branch {name} through head {name}")

    @requires("has_lm_head")
    def test_parallel_generate(self, spec, method, check_seed):
        from conformance.models import lm_head_class
        from conformance.sequences import end_of_sequence_ids, same_generation

        blocks = impl.composition()
        model = adapter_model(spec, lm_head_class(spec))
        for offset, name in enumerate(("a", "b")):
            model.add_adapter(name, impl.make_config(method.config))
            randomize_adapter(model, name, check_seed + offset)
        inputs = prompt_inputs(spec, make_inputs(spec, check_seed))
        settings = {"max_new_tokens": 4, "do_sample": False, "use_cache": True}
        model.set_active_adapters(blocks.Parallel("a", "b"))
        both = model.generate(**inputs, **settings)
        batch = inputs[spec.modality.main_input].shape[0]
        assert both.shape[0] == 2 * batch
        # Parallel pads a branch's rows to the longest of all rows: compare up to each row's end-of-sequence token.
        start = 1 if spec.is_encoder_decoder else inputs[spec.modality.main_input].shape[1]
        eos = end_of_sequence_ids(model)
        for index, name in enumerate(("a", "b")):
            model.set_active_adapters(name)
            single = model.generate(**inputs, **settings)
            mine = both[index * batch : (index + 1) * batch]
            assert same_generation(mine, single, start, eos), (
                f"branch {name} generated otherwise: {mine.tolist()} in Parallel, {single.tolist()} alone"
            )


@pytest.mark.feature("batch_split")
@requires("block:BatchSplit")
class BatchSplitChecks:
    def test_batch_split_matches_oracle(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed, batch=3)
        _assert_matches_oracle(spec, method, model, oracle.BatchSplit("a", "b", batch_sizes=[1, 2]), inputs)

    def test_batch_split_is_claimed_and_accepted(self, spec, method, check_seed):
        _assert_claimed_and_accepted(spec, method, check_seed, "BatchSplit")

    def test_batch_split_equals_single_runs_on_slices(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed, batch=3)
        out = _run_with(model, blocks.BatchSplit("a", "b", batch_sizes=[1, 2]), inputs)
        first = {k: v[:1] for k, v in inputs.items()}
        rest = {k: v[1:] for k, v in inputs.items()}
        _assert_close(out[:1], _run_with(model, "a", first), "slice for a")
        _assert_close(out[1:], _run_with(model, "b", rest), "slice for b")

    def test_batch_split_of_wrong_size_is_refused(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        model.set_active_adapters(blocks.BatchSplit("a", "b", batch_sizes=[1, 1]))
        with pytest.raises(ValueError, match="batch"):
            run(model, make_inputs(spec, check_seed, batch=3))


@pytest.mark.feature("split")
@requires("block:Split")
class SplitChecks:
    def test_split_is_claimed_and_accepted(self, spec, method, check_seed):
        _assert_claimed_and_accepted(spec, method, check_seed, "Split")

    def test_split_ends_equal_single_adapters(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        length = _sequence_length(model, inputs)
        for sizes, alone in (([length, 0], "a"), ([0, length], "b")):
            split = _run_with(model, blocks.Split("a", "b", splits=sizes), inputs)
            _assert_close(split, _run_with(model, alone, inputs), f"Split(a, b, splits={sizes})")

    def test_split_matches_oracle(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        length = _sequence_length(model, inputs)
        half = length // 2
        split = _assert_matches_oracle(
            spec, method, model, oracle.Split("a", "b", splits=[half, length - half]), inputs
        )
        for single in ("a", "b"):
            assert not torch.allclose(split, _expected(spec, method, model, single, inputs), atol=1e-4), (
                f"the oracle says the split equals {single} alone: the split is not a real one"
            )
        same = _run_with(model, impl.composition().Split("a", "a", splits=[half, length - half]), inputs)
        _assert_close(same, _run_with(model, "a", inputs), "Split(a, a)")


def _sequence_length(model, inputs):
    """The length every adapter layer sees (the patch count for vision models)."""
    lengths = set()

    def capture(module, args, output):
        lengths.add((output[0] if isinstance(output, tuple) else output).shape[1])

    handles = [layer.register_forward_hook(capture) for layer in _all_layers(model)]
    try:
        run(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    assert len(lengths) == 1, f"layers see different sequence lengths {sorted(lengths)}; Split cannot cover all"
    return lengths.pop()


def _all_layers(model):
    from conformance.models import model_layers

    return model_layers(model)


@pytest.mark.feature("average")
@requires("block:Average")
class AverageChecks:
    def test_average_is_claimed_and_accepted(self, spec, method, check_seed):
        _assert_claimed_and_accepted(spec, method, check_seed, "Average")

    def test_average_with_one_weight_equals_that_adapter(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        for weights, alone in (([1.0, 0.0], "a"), ([0.0, 1.0], "b")):
            averaged = _run_with(model, blocks.Average("a", "b", weights=weights), inputs)
            _assert_close(averaged, _run_with(model, alone, inputs), f"Average(a, b, weights={weights})")

    def test_average_matches_oracle(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        _assert_matches_oracle(spec, method, model, oracle.Average("a", "b"), inputs)
        _assert_matches_oracle(spec, method, model, oracle.Average("a", "b", weights=[0.2, 0.8]), inputs)
        _assert_matches_oracle(spec, method, model, oracle.Average("a", "b", weights=[1.0, 3.0]), inputs)

    def test_unnormalized_average_matches_oracle(self, spec, method, check_seed):
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        for weights in ([0.3, 0.9], [0.3, -0.9]):
            raw = oracle.Average("a", "b", weights=weights, normalize_weights=False)
            expected = _assert_matches_oracle(spec, method, model, raw, inputs)
        # Weights summing to s scale an edited output by s; a norm on the branch (Gemma 2) hides s > 0 but not s < 0
        normalized = _expected(spec, method, model, oracle.Average("a", "b", weights=weights), inputs)
        assert not torch.allclose(expected, normalized, atol=1e-4), "weights not summing to 1 must matter"

    def test_average_weights_are_normalized(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        equal = _run_with(model, blocks.Average("a", "b"), inputs)
        _assert_close(_run_with(model, blocks.Average("a", "b", weights=[3.0, 3.0]), inputs), equal, "weights 3, 3")
        unnormalized = blocks.Average("a", "b", weights=[0.5, 0.5], normalize_weights=False)
        _assert_close(_run_with(model, unnormalized, inputs), equal, "weights 0.5, 0.5 unnormalized")
        _assert_close(
            _run_with(model, blocks.Average("a", "a"), inputs), _run_with(model, "a", inputs), "Average(a, a)"
        )


FUSION_STD = 0.5  # large enough that the attention over the adapters is far from uniform


@pytest.mark.feature("fusion")
@requires("block:Fuse")
class FusionChecks:
    def test_fuse_is_claimed_and_accepted(self, spec, method, check_seed):
        _assert_claimed_and_accepted(spec, method, check_seed, "Fuse")

    def _fused_copies(self, spec, method, seed, tmp_path):
        """A model with adapter a and b = a copy of a, fused: at init the fusion must return a's output."""
        blocks = impl.composition()
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", seed)
        model.save_adapter(str(tmp_path / "a"), "a", **impl.serialization_options())
        model.load_adapter(str(tmp_path / "a"), load_as="b", **impl.serialization_options())
        model.add_adapter_fusion(blocks.Fuse("a", "b"), impl.fusion_config("dynamic"))
        return model.eval()  # a new fusion layer may start in training mode (AdapterHub's: attention dropout)

    def _fused_pair(self, spec, method, seed, config):
        """Two different adapters and a fusion of them with random, non-trivial query, key and value maps."""
        blocks = impl.composition()
        model = _two_adapters(spec, method, seed)
        model.add_adapter_fusion(blocks.Fuse("a", "b"), impl.fusion_config(config))
        model.eval()  # a new fusion layer may start in training mode (AdapterHub's: attention dropout)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for _, param in sorted(impl.fusion_parameters(model, "a,b").items()):
                param.copy_(torch.randn(param.shape, generator=generator) * FUSION_STD)
        return model

    @pytest.mark.parametrize("temperature", [1.0, 3.0])
    def test_fusion_matches_oracle(self, spec, method, check_seed, temperature, request):
        if temperature != 1.0:
            impl.skip_if_declared_gap(request, "fixed_fusion_temperature")
        config = {"temperature": temperature}  # the dynamic fusion: query, key and value maps
        model = self._fused_pair(spec, method, check_seed, config)
        inputs = make_inputs(spec, check_seed)
        fusion = oracle.Fusion(impl.fusion_weights(model, "a,b"), temperature=temperature)
        fused = _assert_matches_oracle(spec, method, model, oracle.Fuse("a", "b"), inputs, {"a,b": fusion})
        uniform = oracle.Fusion(fusion.weights, temperature=1e9)  # the same maps, every adapter weighted alike
        flat = _expected(spec, method, model, oracle.Fuse("a", "b"), inputs, {"a,b": uniform})
        assert not torch.allclose(fused, flat, atol=1e-4), "the fusion's attention must matter in this check"

    def test_fusion_of_equal_adapters_equals_one(self, spec, method, check_seed, tmp_path):
        blocks = impl.composition()
        model = self._fused_copies(spec, method, check_seed, tmp_path)
        inputs = make_inputs(spec, check_seed)
        fused = _run_with(model, blocks.Fuse("a", "b"), inputs)
        _assert_close(fused, _run_with(model, "a", inputs), "Fuse(a, copy of a)")

    def test_fusion_attentions_are_reported(self, spec, method, check_seed, tmp_path):
        blocks = impl.composition()
        model = self._fused_copies(spec, method, check_seed, tmp_path)
        model.set_active_adapters(blocks.Fuse("a", "b"))
        with torch.no_grad():
            outputs = model(**make_inputs(spec, check_seed), output_adapter_fusion_attentions=True)
        attentions = impl.fusion_attentions(outputs, "a,b")
        assert attentions, "no fusion attention scores were reported"
        for scores in attentions.values():
            assert scores.shape[0] == 2
            torch.testing.assert_close(scores.sum(0), torch.ones_like(scores[0]))

    def test_train_fusion_leaves_adapters_frozen(self, spec, method, check_seed, tmp_path):
        from conformance.models import main_output

        blocks = impl.composition()
        torch.manual_seed(check_seed)
        model = self._fused_copies(spec, method, check_seed, tmp_path)
        model.train_adapter_fusion(blocks.Fuse("a", "b"))
        fusion = impl.fusion_parameters(model, "a,b")
        assert fusion and {k for k, p in model.named_parameters() if p.requires_grad} == set(fusion)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        inputs = make_inputs(spec, check_seed)
        target = torch.randn_like(main_output(model(**inputs)))
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        for _ in range(4):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(main_output(model(**inputs)), target)
            (loss + 1e-3 * model.get_fusion_regularization_loss()).backward()
            optimizer.step()
        after = model.state_dict()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert changed and changed <= set(fusion), f"training changed more than the fusion: {sorted(changed)[:3]}"

    def test_fusion_save_load_roundtrip(self, spec, method, check_seed, tmp_path):
        blocks = impl.composition()
        source = self._fused_copies(spec, method, check_seed, tmp_path)
        with torch.no_grad():
            for param in impl.fusion_parameters(source, "a,b").values():
                param.add_(torch.randn(param.shape, generator=torch.Generator().manual_seed(check_seed)) * 0.05)
        source.save_adapter_fusion(str(tmp_path / "fusion"), blocks.Fuse("a", "b"), **impl.serialization_options())
        target = adapter_model(spec)
        target.load_adapter(str(tmp_path / "a"), load_as="a", **impl.serialization_options())
        target.load_adapter(str(tmp_path / "a"), load_as="b", **impl.serialization_options())
        target.load_adapter_fusion(str(tmp_path / "fusion"), set_active=True, **impl.serialization_options())
        target.eval()
        inputs = make_inputs(spec, check_seed)
        expected = _run_with(source, blocks.Fuse("a", "b"), inputs)
        assert torch.equal(run(target, inputs), expected)


def _block(kind):
    blocks = impl.composition()
    if kind == "Split":
        return blocks.Split("a", "b", splits=[1, 1])
    if kind == "BatchSplit":
        return blocks.BatchSplit("a", "b", batch_sizes=[1, 1])
    return getattr(blocks, kind)("a", "b")


@pytest.mark.conformance_once  # the refusal is decided by the method's config alone: tier "once" (README, Tiers)
class UnsupportedBlockChecks:
    """A block the manifest says the method takes no part in is refused up front with an error naming the block."""

    def _assert_refused(self, spec, method, seed, kind):
        claimed = impl.claimed_blocks(method.config)
        assert claimed is None or kind not in claimed, (
            f"the implementation claims {kind} for {method.name}; the expectations manifest says it is undefined"
        )
        model = _two_adapters(spec, method, seed)
        with pytest.raises(ValueError, match=kind):
            if kind == "Fuse":
                model.add_adapter_fusion(_block(kind))
            else:
                model.set_active_adapters(_block(kind))
        assert model.active_adapters is None, "a refused setup must not become active"

    @requires("!block:Fuse")
    def test_fuse_refused(self, spec, method, check_seed):
        self._assert_refused(spec, method, check_seed, "Fuse")

    @requires("!block:Parallel")
    def test_parallel_refused(self, spec, method, check_seed):
        self._assert_refused(spec, method, check_seed, "Parallel")

    @requires("!block:Split")
    def test_split_refused(self, spec, method, check_seed):
        self._assert_refused(spec, method, check_seed, "Split")

    @requires("!block:BatchSplit")
    def test_batch_split_refused(self, spec, method, check_seed):
        self._assert_refused(spec, method, check_seed, "BatchSplit")

    @requires("!block:Average")
    def test_average_refused(self, spec, method, check_seed):
        self._assert_refused(spec, method, check_seed, "Average")
