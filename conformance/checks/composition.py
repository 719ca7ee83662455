"""Composition blocks: each block's output equals the hand-composed reference built from single-adapter runs.

Each check class counts towards its block's column and runs for every method whose adapters the implementation
lets take part in that block.
"""

from __future__ import annotations

import pytest
import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, make_inputs, randomize_adapter, run


ATOL = 1e-5  # batched runs of different sizes may round differently


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


@pytest.mark.feature("stack")
@requires("block:Stack")
class StackChecks:
    def test_stack_spellings_agree(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        expected = _run_with(model, blocks.Stack("a", "b"), inputs)
        assert torch.equal(_run_with(model, "a,b", inputs), expected)
        assert torch.equal(_run_with(model, ["a", "b"], inputs), expected)
        assert impl.active_setup(model) == impl.neutral_setup(blocks.Stack("a", "b"))
        restored = blocks.CompositionBlock.from_dict(blocks.Stack("a", "b").to_dict())
        assert torch.equal(_run_with(model, restored, inputs), expected)

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

    def test_parallel_branches_run_their_own_heads(self, spec, method, check_seed):
        from conformance.checks.heads import flex_model, head_inputs

        blocks = impl.composition()
        model = flex_model(spec)
        for offset, name in enumerate(("a", "b")):
            model.add_adapter(name, impl.make_config(method.config))
            randomize_adapter(model, name, check_seed + offset)
            if spec.modality == "vision":
                model.add_image_classification_head(name, num_labels=2 + offset)
            else:
                model.add_classification_head(name, num_labels=2 + offset)
        inputs = head_inputs(spec, "classification", check_seed)
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

        blocks = impl.composition()
        model = adapter_model(spec, lm_head_class(spec))
        for offset, name in enumerate(("a", "b")):
            model.add_adapter(name, impl.make_config(method.config))
            randomize_adapter(model, name, check_seed + offset)
        inputs = make_inputs(spec, check_seed)
        inputs.pop("decoder_input_ids", None)
        settings = {"max_new_tokens": 4, "do_sample": False, "use_cache": True}
        model.set_active_adapters(blocks.Parallel("a", "b"))
        both = model.generate(**inputs, **settings)
        batch = inputs["input_ids"].shape[0]
        assert both.shape[0] == 2 * batch
        for index, name in enumerate(("a", "b")):
            model.set_active_adapters(name)
            single = model.generate(**inputs, **settings)
            assert torch.equal(both[index * batch : (index + 1) * batch], single), f"branch {name} generated otherwise"


@pytest.mark.feature("batch_split")
@requires("block:BatchSplit")
class BatchSplitChecks:
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
    def test_split_ends_equal_single_adapters(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        length = _sequence_length(model, inputs)
        for sizes, alone in (([length, 0], "a"), ([0, length], "b")):
            split = _run_with(model, blocks.Split("a", "b", splits=sizes), inputs)
            _assert_close(split, _run_with(model, alone, inputs), f"Split(a, b, splits={sizes})")

    def test_split_mixes_both_adapters(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        length = _sequence_length(model, inputs)
        half = length // 2
        split = _run_with(model, blocks.Split("a", "b", splits=[half, length - half]), inputs)
        for single in ("a", "b"):
            assert not torch.allclose(split, _run_with(model, single, inputs), atol=1e-4)
        same = _run_with(model, blocks.Split("a", "a", splits=[half, length - half]), inputs)
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
    def test_average_with_one_weight_equals_that_adapter(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        for weights, alone in (([1.0, 0.0], "a"), ([0.0, 1.0], "b")):
            averaged = _run_with(model, blocks.Average("a", "b", weights=weights), inputs)
            _assert_close(averaged, _run_with(model, alone, inputs), f"Average(a, b, weights={weights})")

    def test_average_weights_are_normalized(self, spec, method, check_seed):
        blocks = impl.composition()
        model = _two_adapters(spec, method, check_seed)
        inputs = make_inputs(spec, check_seed)
        equal = _run_with(model, blocks.Average("a", "b"), inputs)
        _assert_close(_run_with(model, blocks.Average("a", "b", weights=[3.0, 3.0]), inputs), equal, "weights 3, 3")
        unnormalized = blocks.Average("a", "b", weights=[0.5, 0.5], normalize_weights=False)
        _assert_close(_run_with(model, unnormalized, inputs), equal, "weights 0.5, 0.5 unnormalized")
        for single in ("a", "b"):
            assert not torch.allclose(equal, _run_with(model, single, inputs), atol=1e-4)
        _assert_close(
            _run_with(model, blocks.Average("a", "a"), inputs), _run_with(model, "a", inputs), "Average(a, a)"
        )


@pytest.mark.feature("fusion")
@requires("block:Fuse")
class FusionChecks:
    def _fused_copies(self, spec, method, seed, tmp_path):
        """A model with adapter a and b = a copy of a, fused: at init the fusion must return a's output."""
        blocks = impl.composition()
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", seed)
        model.save_adapter(str(tmp_path / "a"), "a", **impl.serialization_options())
        model.load_adapter(str(tmp_path / "a"), load_as="b", **impl.serialization_options())
        model.add_adapter_fusion(blocks.Fuse("a", "b"), "dynamic")
        return model

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
        attentions = outputs["adapter_fusion_attentions"]["a,b"]
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
        fusion = model.fusion_parameters(blocks.Fuse("a", "b"))
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
            for param in source.fusion_parameters(blocks.Fuse("a", "b")).values():
                param.add_(torch.randn(param.shape, generator=torch.Generator().manual_seed(check_seed)) * 0.05)
        source.save_adapter_fusion(str(tmp_path / "fusion"), blocks.Fuse("a", "b"), **impl.serialization_options())
        target = adapter_model(spec)
        target.load_adapter(str(tmp_path / "a"), load_as="a", **impl.serialization_options())
        target.load_adapter(str(tmp_path / "a"), load_as="b", **impl.serialization_options())
        target.load_adapter_fusion(str(tmp_path / "fusion"), set_active=True, **impl.serialization_options())
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


class UnsupportedBlockChecks:
    """A block the method does not take part in is refused up front with an error naming the block."""

    def _assert_refused(self, spec, method, seed, kind):
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
