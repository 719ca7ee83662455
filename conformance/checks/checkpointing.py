"""Gradient checkpointing: training an adapter with it gives the same weights as training without it.

Collected only where transformers supports gradient checkpointing for the architecture (read off the class).
"""

from __future__ import annotations

import torch

from architectures.live import get_path, layers_of, resolve_layout
from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, main_output, make_inputs, randomize_adapter


STEPS = 2
LEARNING_RATE = 0.1


def enable_checkpointing(model) -> None:
    # transformers 5 renamed it (the old name is a deprecated alias); 4.x has the old name only
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()


def train(
    spec, method, seed: int, checkpointing: bool
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], int]:
    """Initial and trained adapter weights after ``STEPS`` SGD steps, and how often the first attentions ran."""
    # Both runs start from the same global RNG state: writing an orthogonal parametrisation (AdapterHub's LoReFT R)
    # completes it to a square matrix from torch's global RNG, and training moves the completion too
    torch.manual_seed(seed)
    model = adapter_model(spec)
    model.add_adapter("a", impl.make_config(method.config))
    randomize_adapter(model, "a", seed)
    if checkpointing:
        enable_checkpointing(model)
    model.train_adapter("a")
    # Runs of the first layer's attention: checkpointing runs it again in the backward pass (the layer's own hooks
    # may stay outside the checkpoint, and a recomputation may stop after the last tensor it needs).
    # Every stack's first attention counts: an audio encoder whose input needs no gradient is not recomputed.
    calls = []
    for stack in resolve_layout(spec, model).stacks:
        attention = get_path(layers_of(stack, model)[0], stack.self_attention.module)
        attention.register_forward_hook(lambda *_: calls.append(1))
    inputs = make_inputs(spec, seed)
    generator = torch.Generator().manual_seed(seed)
    params = impl.adapter_parameters(model, "a")
    initial = {k: v.detach().clone() for k, v in params.items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    torch.manual_seed(seed)  # the same dropout masks in both runs
    target = None
    for _ in range(STEPS):
        optimizer.zero_grad()
        output = main_output(model(**inputs))
        if target is None:
            target = torch.randn(output.shape, generator=generator)
        torch.nn.functional.mse_loss(output, target).backward()
        optimizer.step()
    return initial, {k: v.detach().clone() for k, v in params.items()}, len(calls)


@requires("supports_gradient_checkpointing")
class GradientCheckpointingChecks:
    def test_checkpointing_trains_the_same(self, spec, method, check_seed):
        initial, plain, plain_calls = train(spec, method, check_seed, checkpointing=False)
        _, checkpointed, checkpointed_calls = train(spec, method, check_seed, checkpointing=True)
        assert checkpointed_calls > plain_calls, "with checkpointing on, nothing was recomputed in the backward pass"
        assert any(not torch.equal(plain[k], initial[k]) for k in initial), "training changed no adapter weight"
        for key, value in plain.items():
            torch.testing.assert_close(
                checkpointed[key], value, atol=1e-6, rtol=1e-5, msg=f"{key} trained differently with checkpointing"
            )
