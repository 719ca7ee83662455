"""``BnConfig.placement`` on BEiT and Phi, where AdapterHub's modeling code places bottleneck adapters differently from
the definition: the reference's output equals hooks on the plain model that apply each placement's formula.

The formulas (``A(z, r)``: the adapter's result on the branch ``z`` with the residual input ``r``):
- BEiT: definition ``r + lambda * A(h, r)``, AdapterHub ``r + A(lambda * h, r)`` (after the layer scale);
- Phi's FFN: definition ``A(h, r)``, AdapterHub ``A(h, None)`` (no residual input); its attention: the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.nn import functional

from architectures.live import build_model, get_path, resolve_layout
from architectures.registry import get
from conformance.models import main_output, make_inputs
from reference_impl import init
from reference_impl.composition import BatchSplit, Fuse, Stack
from reference_impl.configs import DoubleSeqBnConfig, ParBnConfig, SeqBnConfig


BEIT, PHI = get("beit"), get("phi")
SITE = ".adapter_site.bottleneck."
CONFIGS = {  # name -> (config, A(z, r, weights)); A's r is None where the adapter gets no residual input
    "seq_bn": (
        SeqBnConfig(mh_adapter=True, reduction_factor=4),
        lambda z, r, w: z + _up(w, functional.relu(_down(w, z if r is None else z + r))),
    ),
    "double_seq_bn": (DoubleSeqBnConfig(reduction_factor=4), lambda z, r, w: z + _up(w, functional.silu(_down(w, z)))),
    "par_bn": (ParBnConfig(reduction_factor=4), lambda z, r, w: z + 4.0 * _up(w, functional.relu(_down(w, r)))),
}


def _down(w: dict, x: torch.Tensor) -> torch.Tensor:
    return functional.linear(x, w["down.weight"], w["down.bias"])


def _up(w: dict, x: torch.Tensor) -> torch.Tensor:
    return functional.linear(x, w["up.weight"], w["up.bias"])


@torch.no_grad()
def _layer_scales(model: Any) -> None:
    """BEiT's lambda_1 / lambda_2 set to distinct values in (0.1, 1), the same on every model built from its spec."""
    generator = torch.Generator().manual_seed(3)
    for name, param in sorted(model.named_parameters()):
        if name.rpartition(".")[2] in ("lambda_1", "lambda_2"):
            param.copy_(0.1 + 0.9 * torch.rand(param.shape, generator=generator))


def _reference(spec: Any, adapters: dict[str, Any], setup: Any = "a") -> Any:
    model = init(build_model(spec))
    _layer_scales(model)
    for seed, (name, config) in enumerate(adapters.items()):
        model.add_adapter(name, config)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for _, param in sorted(model.adapter_parameters(name).items()):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    model.set_active_adapters(setup)
    return model


def _weights(model: Any, name: str) -> dict[str, dict[str, torch.Tensor]]:
    """Adapter ``name``'s weights by hooked module path ("layers.0.mlp.fc2") and part ("down.weight")."""
    found: dict[str, dict[str, torch.Tensor]] = {}
    for key, param in model.adapter_parameters(name).items():
        where, _, rest = key.partition(SITE)
        found.setdefault(where, {})[rest.partition(".")[2]] = param.detach()
    return found


def _output(model: Any, spec: Any) -> torch.Tensor:
    with torch.no_grad():
        return main_output(model(**make_inputs(spec, 0)))


def _hooked_beit(weights: dict[str, dict], formula: Callable, placement: str) -> torch.Tensor:
    """The plain BEiT with the adapter's formula applied by hooks: on the output projection (inside the layer scale)
    for the definition, on the scaled branch (drop_path's output, before the residual) for AdapterHub."""
    model = build_model(BEIT)
    _layer_scales(model)
    stack = resolve_layout(BEIT, model).stacks[0]  # 4.x nests BEiT's modules, 5.x flattens them
    for index, layer in enumerate(get_path(model, stack.path)):
        seen: dict[str, Any] = {}
        paths = {sub: f"{stack.path}.{index}.{end}" for sub, end in (("attention", stack.self_attention.output),
                                                                      ("ffn", stack.ffn_out))}  # fmt: skip

        def residual(sub_layer: str, seen: dict = seen) -> Callable:
            def record(module: Any, args: tuple) -> None:
                seen["r"], seen["sub_layer"] = args[0], sub_layer

            return record

        def adapt(path: str | None, seen: dict = seen) -> Callable:
            def hook(module: Any, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
                where = path or seen["sub_layer"]
                return formula(output, seen["r"], weights[where]) if where in weights else None

            return hook

        layer.layernorm_before.register_forward_pre_hook(residual(paths["attention"]))
        layer.layernorm_after.register_forward_pre_hook(residual(paths["ffn"]))
        if placement == "definition":
            for path in paths.values():
                model.get_submodule(path).register_forward_hook(adapt(path))
        else:  # drop_path runs once per branch, on lambda * h, right before the residual is added
            layer.drop_path.register_forward_hook(adapt(None))
    return _output(model, BEIT)


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_beit_adapterhub_placement_reads_the_branch_after_the_layer_scale(method):
    config, formula = CONFIGS[method]
    outputs = {}
    for placement in ("definition", "adapterhub"):
        model = _reference(BEIT, {"a": config.replace(placement=placement)})
        outputs[placement] = _output(model, BEIT)
        expected = _hooked_beit(_weights(model, "a"), formula, placement)
        torch.testing.assert_close(outputs[placement], expected, atol=1e-5, rtol=1e-5)
    assert (outputs["adapterhub"] - outputs["definition"]).abs().max() > 1e-2, "the two placements should differ"


def test_beit_adapterhub_placement_composes():
    """Stack: the second adapter reads the first one's result, both after the layer scale; BatchSplit: each row as
    its adapter alone; Fuse of an adapter with a Stack of its copy: the adapter alone."""
    config, formula = CONFIGS["seq_bn"]
    config = config.replace(placement="adapterhub")
    model = _reference(BEIT, {"a": config, "b": config}, Stack("a", "b"))
    weights = {name: _weights(model, name) for name in "ab"}
    both = {where: {"a": weights["a"][where], "b": weights["b"][where]} for where in weights["a"]}
    expected = _hooked_beit(both, lambda z, r, w: formula(formula(z, r, w["a"]), r, w["b"]), "adapterhub")
    torch.testing.assert_close(_output(model, BEIT), expected, atol=1e-5, rtol=1e-5)

    alone = {}
    for name in "ab":
        model.set_active_adapters(name)
        alone[name] = _output(model, BEIT)
    model.set_active_adapters(BatchSplit("a", "b", batch_sizes=[1, 1]))
    split = _output(model, BEIT)
    torch.testing.assert_close(split[:1], alone["a"][:1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(split[1:], alone["b"][1:], atol=1e-5, rtol=1e-5)

    with torch.no_grad():
        for key, param in model.adapter_parameters("b").items():
            param.copy_(model.adapter_parameters("a")[key.replace(".b.", ".a.")])
    fuse = Fuse("a", Stack("b"))
    model.add_adapter_fusion(fuse)
    model.set_active_adapters(fuse)
    torch.testing.assert_close(_output(model, BEIT), alone["a"], atol=1e-5, rtol=1e-5)


def _hooked_phi(weights: dict[str, dict], formula: Callable, placement: str) -> torch.Tensor:
    """The plain Phi with the formula applied on the attention's and the FFN's output projections; the FFN's adapter
    gets no residual input in AdapterHub's placement."""
    model = build_model(PHI)
    for index, layer in enumerate(model.layers):
        seen: dict[str, Any] = {}
        layer.input_layernorm.register_forward_pre_hook(lambda module, args, seen=seen: seen.update(r=args[0]))
        for path, reads_r in (("self_attn.dense", True), ("mlp.fc2", placement == "definition")):
            where = f"layers.{index}.{path}"

            def hook(module, args, output, where=where, reads_r=reads_r, seen=seen):
                return formula(output, seen["r"] if reads_r else None, weights[where]) if where in weights else None

            model.get_submodule(where).register_forward_hook(hook)
    return _output(model, PHI)


@pytest.mark.parametrize("method", ("seq_bn", "double_seq_bn"))
def test_phi_adapterhub_placement_gives_the_ffn_adapter_no_residual_input(method):
    config, formula = CONFIGS[method]
    outputs = {}
    for placement in ("definition", "adapterhub"):
        model = _reference(PHI, {"a": config.replace(placement=placement)})
        outputs[placement] = _output(model, PHI)
        torch.testing.assert_close(
            outputs[placement], _hooked_phi(_weights(model, "a"), formula, placement), atol=1e-5, rtol=0
        )
    differ = (outputs["adapterhub"] - outputs["definition"]).abs().max() > 1e-2
    assert differ == config.original_ln_before, "only an adapter that reads h + r changes with the placement"


def test_phi_adapterhub_placement_refuses_a_parallel_adapter():
    with pytest.raises(ValueError, match="no residual input"):
        _reference(PHI, {"a": ParBnConfig(placement="adapterhub")})


@pytest.mark.parametrize("arch", ("bert", "llama"))
def test_adapterhub_placement_is_the_definition_elsewhere(arch):
    spec = get(arch)
    config = SeqBnConfig(mh_adapter=True, reduction_factor=4)
    outputs = [
        _output(_reference(spec, {"a": config.replace(placement=p)}), spec) for p in ("definition", "adapterhub")
    ]
    assert torch.equal(*outputs)


def test_beit_adapterhub_placement_refuses_a_zero_layer_scale():
    """A zero entry of lambda discards the projection's output there: the adapter's result cannot be placed."""
    model = _reference(BEIT, {"a": SeqBnConfig(placement="adapterhub")})
    with torch.no_grad():
        next(p for n, p in sorted(model.named_parameters()) if n.endswith("lambda_2"))[5] = 0.0
    with pytest.raises(RuntimeError, match="lambda_2 has a zero entry"):
        _output(model, BEIT)
