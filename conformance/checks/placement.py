"""Where a LoRA-family adapter acts: on exactly the projections (and output features) its config names.

The projections come from the spec (``conformance.oracles.projections``), a fused qkv split into its q, k and v
features by the spec's layout. Each projection of the adapted model is hooked; the input it got is run through the
plain model's copy of it, so every projection is compared on the same input, feature by feature, whatever changed
upstream. A second probe needs no knowledge of the layout at all: over a single token every attention weight is 1,
whatever the queries and keys, so adapting only q and k must leave the output as it was, while adapting v changes it.
"""

from __future__ import annotations

from typing import Any

import torch

from architectures.live import get_path
from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, make_inputs, plain_model, randomize_adapter, run
from conformance.oracles.lora import resolve
from conformance.oracles.projections import Projection, layer_count, projections


# A feature whose output moved by more than this on some token was changed by the adapter; relative to the
# projection's output where that is small (IA3 scales of a fused gate/up projection, Phi-3, leave outputs of ~1e-6)
CHANGED = 1e-5
ONE_TOKEN_ATOL = 1e-5
ONLY_ATTENTION = {"selfattn_lora": True, "intermediate_lora": False, "output_lora": False, "leave_out": []}


def _changed_features(spec: Any, config: dict[str, Any], seed: int) -> dict[Projection, torch.Tensor]:
    """For every projection: which of its output features the adapter changed (a bool per feature)."""
    plain = plain_model(spec)
    model = adapter_model(spec)
    model.add_adapter("a", impl.make_config(config), set_active=True)
    randomize_adapter(model, "a", seed)
    sites = list(projections(plain, spec))
    calls: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {p.path: [] for p in sites}
    # copies: the forward may go on to change a projection's output in place (Falcon adds the attention output to
    # the MLP's output with +=)
    handles = [
        get_path(model, path).register_forward_hook(
            lambda module, args, output, path=path: calls[path].append((args[0].detach(), output.detach().clone()))
        )
        for path in calls
    ]
    try:
        run(model, make_inputs(spec, seed))
    finally:
        for handle in handles:
            handle.remove()
    moved: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for path, recorded in calls.items():
            assert recorded, f"{path} did not run in the adapted model's forward pass"
            plain_module = get_path(plain, path)
            diffs = [(output - plain_module(x)).abs().flatten(0, -2).amax(0) for x, output in recorded]
            scale = min(1.0, max(float(output.abs().max()) for _, output in recorded))
            moved[path] = torch.stack(diffs).amax(0) > CHANGED * scale
    return {p: moved[p.path] if p.features is None else moved[p.path][p.features] for p in sites}


def _assert_changes_exactly(spec: Any, config: dict[str, Any], seed: int) -> None:
    definition = resolve(config)
    wrong = []
    for projection, changed in _changed_features(spec, config, seed).items():
        adapted = definition.adapts(projection)
        if (adapted and not changed.all()) or (not adapted and changed.any()):
            wrong.append(
                f"layer {projection.layer} {projection.site} ({projection.path}): "
                f"{'adapted' if adapted else 'not adapted'}, {int(changed.sum())}/{changed.numel()} features changed"
            )
    assert not wrong, f"{config} changes other output features than it names:\n" + "\n".join(wrong)


def _one_token(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value[:, :1] for name, value in inputs.items()}


@requires("adapts_projections")
class PlacementChecks:
    def test_q_adapter_changes_only_the_q_features(self, spec, method, check_seed):
        config = {**method.config, **ONLY_ATTENTION, "attn_matrices": ["q"]}
        _assert_changes_exactly(spec, config, check_seed)

    def test_left_out_layers_are_untouched(self, spec, method, check_seed):
        left_out = list(range(1, layer_count(plain_model(spec), spec), 2))
        _assert_changes_exactly(spec, {**method.config, "leave_out": left_out}, check_seed)

    @requires("shrinks_to_one_token")
    def test_q_and_k_adapters_cannot_change_a_single_token(self, spec, method, check_seed):
        inputs = _one_token(make_inputs(spec, check_seed))
        expected = run(plain_model(spec), inputs)
        outputs = {}
        for matrices in (["q", "k"], ["v"]):
            model = adapter_model(spec)
            model.add_adapter("a", impl.make_config({**method.config, **ONLY_ATTENTION, "attn_matrices": matrices}))
            model.set_active_adapters("a")
            randomize_adapter(model, "a", check_seed)
            outputs["".join(matrices)] = run(model, inputs)
        assert not torch.allclose(outputs["v"], expected, atol=1e-4), "an adapter on v changed nothing: probe is blind"
        torch.testing.assert_close(
            outputs["qk"],
            expected,
            atol=ONE_TOKEN_ATOL,
            rtol=0,
            msg="over one token attention weights are 1, yet adapting q and k changed the output: the adapter "
            "touched other output features than the queries' and keys' (a fused qkv split the wrong way?)",
        )
