"""Training one adapter: only its parameters learn, the base model and other adapters stay bit-identical."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.models import adapter_model, main_output, make_inputs


STEPS = 8


class TrainingChecks:
    def test_train_adapter_changes_only_that_adapter(self, spec, method, check_seed):
        torch.manual_seed(check_seed)
        model = adapter_model(spec)
        model.add_adapter("trained", impl.make_config(method.config))
        model.add_adapter("frozen", impl.make_config(method.config))
        model.train_adapter("trained")
        assert impl.active_setup(model) == impl.neutral_setup(("trained",))
        trained = impl.adapter_parameters(model, "trained")
        trainable = {k for k, p in model.named_parameters() if p.requires_grad}
        assert trainable == set(trained), "train_adapter must leave exactly that adapter trainable"

        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        inputs = make_inputs(spec, check_seed)
        target = torch.randn_like(main_output(model(**inputs)), generator=None)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)

        def loss_now() -> float:
            model.eval()
            with torch.no_grad():
                value = torch.nn.functional.mse_loss(main_output(model(**inputs)), target).item()
            model.train()
            return value

        start = loss_now()
        for _ in range(STEPS):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(main_output(model(**inputs)), target).backward()
            with_grad = {k for k, p in model.named_parameters() if p.grad is not None}
            assert with_grad <= set(trained), (
                f"gradients reached non-adapter weights: {sorted(with_grad - set(trained))[:3]}"
            )
            optimizer.step()
        assert loss_now() < start, "the loss did not go down while training the adapter"

        after = model.state_dict()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert changed, "training changed no weight"
        # a module shared by several layers shows in the state dict under each of its paths: compare storage
        adapter_storage = {p.untyped_storage().data_ptr() for p in trained.values()}
        outside = sorted(
            k for k in changed - set(trained) if after[k].untyped_storage().data_ptr() not in adapter_storage
        )
        assert not outside, f"training changed weights outside the adapter: {outside[:3]}"
