"""Adapters keep working where users run models: under accelerate's hooks, under torch.compile, in bfloat16 and with
the Hugging Face Trainer. Each check runs the model with active adapters (a LoRA and a bottleneck adapter, stacked)
and compares with the same model run plainly."""

from __future__ import annotations

import copy
import importlib.util

import pytest
import torch

from conformance import impl
from conformance.checks.adapter_model import SETUP_METHODS, adapted, head_kind
from conformance.checks.heads import head_inputs, head_labels, head_parameters, logits_of
from conformance.heads import HEADS


ATOL = 1e-5
# bfloat16 keeps 8 bits of mantissa (relative precision 2^-8): the tiny models' logits stay within this share of the
# largest float32 logit (measured on the registered architectures: at most 0.75 %)
BF16_RELATIVE = 0.02


def _logits(model, inputs):
    with torch.no_grad():
        return logits_of(model(**inputs))


def _needs(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.fail(f"{package} is not installed: pip install -e '.[test]' installs it")


@pytest.mark.feature("accelerate")
class AccelerateChecks:
    def test_cpu_offload_keeps_adapters(self, spec, check_seed):
        _needs("accelerate")
        from accelerate import cpu_offload

        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        expected = _logits(model, inputs)
        offloaded = copy.deepcopy(model)
        cpu_offload(offloaded, execution_device=torch.device("cpu"))
        assert any(hasattr(m, "_hf_hook") for m in offloaded.modules()), "accelerate installed no hooks"
        torch.testing.assert_close(_logits(offloaded, inputs), expected, atol=ATOL, rtol=0)

    def test_dispatch_model_keeps_adapters(self, spec, check_seed):
        _needs("accelerate")
        from accelerate import dispatch_model

        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        expected = _logits(model, inputs)
        dispatched = dispatch_model(copy.deepcopy(model), device_map={"": "cpu"}, force_hooks=True)
        torch.testing.assert_close(_logits(dispatched, inputs), expected, atol=ATOL, rtol=0)

    def test_empty_weights_then_load(self, spec, check_seed):
        """Build on the meta device (no memory for weights), then load the real weights: adapters included."""
        _needs("accelerate")
        from accelerate import init_empty_weights

        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        expected = _logits(model, inputs)
        with init_empty_weights():
            empty = impl.adapter_model_from_config(spec)
        assert any(p.is_meta for p in empty.parameters()), "init_empty_weights built real weights"
        kind = head_kind(spec)
        getattr(empty, HEADS[kind].add)("h", **HEADS[kind].kwargs)
        for name in model.adapters_config:
            empty.add_adapter(name, impl.adapter_config(model, name))
        empty.load_state_dict(model.state_dict(), assign=True)
        empty.tie_weights()
        empty.set_active_adapters(model.active_adapters)
        empty.active_head = "h"
        assert not any(p.is_meta for p in empty.parameters()), "weights stayed on the meta device after loading"
        torch.testing.assert_close(_logits(empty.eval(), inputs), expected, atol=ATOL, rtol=0)


@pytest.mark.feature("torch_compile")
class CompileChecks:
    def test_compiled_model_gives_the_same_outputs(self, spec, check_seed):
        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        expected = _logits(model, inputs)
        torch._dynamo.reset()
        compiled = torch.compile(model, backend="eager")
        torch.testing.assert_close(_logits(compiled, inputs), expected, atol=ATOL, rtol=0)
        model.set_active_adapters(None)  # a changed setup must not reuse the adapted graph
        torch.testing.assert_close(_logits(compiled, inputs), _logits(model, inputs), atol=ATOL, rtol=0)


@pytest.mark.feature("bfloat16")
class Bfloat16Checks:
    def test_bfloat16_is_close_to_float32(self, spec, check_seed):
        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        expected = _logits(model, inputs)
        half = copy.deepcopy(model).to(torch.bfloat16)
        assert all(p.dtype == torch.bfloat16 for p in half.parameters()), "some weights stayed in float32"
        cast = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in inputs.items()}
        actual = _logits(half, cast)
        assert actual.dtype == torch.bfloat16
        error = (actual.float() - expected).abs().max().item()
        scale = expected.abs().max().item()
        assert error <= BF16_RELATIVE * scale, f"bfloat16 is {error:.3g} off float32 logits of size {scale:.3g}"


@pytest.mark.feature("trainer")
class TrainerChecks:
    def test_trainer_trains_only_the_adapters(self, spec, check_seed, tmp_path):
        _needs("accelerate")
        from transformers import TrainingArguments

        model = adapted(spec, check_seed)
        active = model.active_adapters
        model.train_adapter(active)
        model.active_head = "h"
        kind = head_kind(spec)
        rows = [
            {**{k: v[0] for k, v in head_inputs(spec, kind, check_seed + i, batch=1).items()},
             **{k: v[0] for k, v in head_labels(spec, kind, 3, check_seed + i, batch=1).items()}}
            for i in range(4)
        ]  # fmt: skip
        names = [m for m in SETUP_METHODS if m in model.adapters_config]
        learning = {k for m in names for k in impl.adapter_parameters(model, m)}
        frozen_before = {k: v.detach().clone() for k, v in model.named_parameters() if k not in learning}
        adapters_before = {m: _copied(impl.adapter_parameters(model, m)) for m in names}
        loss_before = _loss(model, rows)
        arguments = TrainingArguments(
            output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, num_train_epochs=8, learning_rate=1e-2,
            logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=check_seed % 2**31,
            dataloader_num_workers=0, disable_tqdm=True,
        )  # fmt: skip
        impl.trainer_class()(model=model, args=arguments, train_dataset=rows).train()
        loss_after = _loss(model, rows)
        assert loss_after < loss_before, f"training did not lower the loss: {loss_before:.4f} -> {loss_after:.4f}"
        head = set(head_parameters(model, "h"))  # a tied output weight is checked under the base's name
        for key, value in model.named_parameters():
            if key in frozen_before and key not in head:
                assert torch.equal(value, frozen_before[key]), f"the Trainer changed the frozen weight {key}"
        for name in names:
            after = impl.adapter_parameters(model, name)
            assert any(not torch.equal(after[k], v) for k, v in adapters_before[name].items()), f"{name} did not learn"
        model.eval()
        inputs = head_inputs(spec, kind, check_seed)
        expected = _logits(model, inputs)
        for name in names:
            model.save_adapter(str(tmp_path / name), name, **impl.serialization_options())
        model.save_head(str(tmp_path / "head"), "h", **impl.serialization_options())
        reloaded = adapted(spec, check_seed)
        for name in names:
            reloaded.load_adapter(str(tmp_path / name), overwrite_ok=True, **impl.serialization_options())
        reloaded.load_head(str(tmp_path / "head"), overwrite_ok=True, **impl.serialization_options())
        reloaded.set_active_adapters(active)
        reloaded.active_head = "h"
        torch.testing.assert_close(_logits(reloaded.eval(), inputs), expected, atol=ATOL, rtol=0)


def _loss(model, rows) -> float:
    """The loss over every row at once, in eval mode (no dropout)."""
    batch = {key: torch.stack([row[key] for row in rows]) for key in rows[0]}
    was_training = model.training
    with torch.no_grad():
        loss = model.eval()(**batch).loss.item()
    model.train(was_training)
    return loss


def _copied(params):
    return {k: v.detach().clone() for k, v in params.items()}
