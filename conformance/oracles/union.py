"""Config unions: one adapter made of several methods' adapters, each by its own oracle, all applied together.

- ``union`` (ConfigUnion): its ``configs``.
- ``mam`` (He et al., 2021, "Towards a Unified View of Parameter-Efficient Transfer Learning"): prefix tuning plus a
  parallel bottleneck adapter at the FFN; AdapterHub's defaults ``PrefixTuningConfig(bottleneck_size=800)`` and
  ``ParBnConfig()``.
- ``unipelt`` (Mao et al., 2022, "UniPELT: A Unified Framework for Parameter-Efficient Language Model Tuning"): prefix
  tuning, a sequential bottleneck adapter and LoRA, each with ``use_gating=True`` (as AdapterHub sets it): a learned
  gate ``g = sigmoid(x gate_weight^T + gate_bias)`` per token scales the part's contribution. Canonical tensors
  ``gate_weight`` (1 x features) and ``gate_bias`` (1,) at the part's site (for a fused qkv projection, the one gate
  under each adapted matrix's site). This oracle gates the bottleneck part (``x``: the adapter's input; the sub-layer
  gets ``residual + g * up``) and the LoRA-family part (``x``: the projection's input; ``W x + b + g * delta``); the
  prefix part gates itself in its own oracle (``use_gating``). The gate is per token, as the paper writes it (its
  code and AdapterHub average it over the sequence). AdapterHub's defaults: ``PrefixTuningConfig(prefix_length=10)``,
  ``SeqBnConfig(reduction_factor=16)``, ``LoRAConfig(r=8, alpha=2)``.

The union's ``leave_out`` is added to each part's. Each part gets the canonical tensors of the sites it owns (a site
kind per method family; two bottleneck parts are told apart by ``mh_adapter`` / ``output_adapter``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import torch

from conformance.weights import parse

from .base import Captures, Edit, MethodOracle, Region
from .registry import defines, oracle_for


MAM_DEFAULTS = {
    "prefix_tuning": {"config": "prefix_tuning", "bottleneck_size": 800},
    "adapter": {"config": "par_bn"},
}
UNIPELT_DEFAULTS = {
    "prefix_tuning": {"config": "prefix_tuning", "prefix_length": 10},
    "adapter": {"config": "seq_bn", "reduction_factor": 16},
    "lora": {"config": "lora", "r": 8, "alpha": 2},
}
# Site kinds, by the method family that owns them.
BOTTLENECKS = ("seq_bn", "double_seq_bn", "par_bn", "compacter", "compacter++", "seq_bn_inv", "double_seq_bn_inv")
PROJECTION_METHODS = ("lora", "ia3", "dora")
# (mh_adapter, output_adapter) defaults per bottleneck config, as AdapterHub has them
BOTTLENECK_PLACES = {"double_seq_bn": (True, True), "double_seq_bn_inv": (True, True)}
PROJECTION_SITES = ("q", "k", "v", "o")
GATES = ("gate_weight", "gate_bias")
OTHER_SITES = {"loreft": "reft", "noreft": "reft", "direft": "reft", "prompt_tuning": "prompt"}


def parts_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    name = config["config"]
    if name == "union":
        parts = [dict(part) for part in config["configs"]]
    elif name == "mam":
        parts = [dict(config.get(field) or default) for field, default in MAM_DEFAULTS.items()]
    elif name == "unipelt":
        parts = [{**(config.get(field) or default), "use_gating": True} for field, default in UNIPELT_DEFAULTS.items()]
    else:
        raise LookupError(f"{name!r} is not a union the suite knows (union, mam, unipelt)")
    leave_out = set(config.get("leave_out", ()))
    if leave_out:
        parts = [{**part, "leave_out": sorted(leave_out | set(part.get("leave_out", ())))} for part in parts]
    return parts


def owns(part: dict[str, Any], site: str) -> bool:
    """Whether canonical tensors at ``site`` belong to the union's part ``part``."""
    method = part["config"]
    if method == "prefix_tuning":
        return site.endswith(".prefix")
    if method in BOTTLENECKS:
        mh, output = BOTTLENECK_PLACES.get(method, (False, True))
        places = {"attention_adapter": part.get("mh_adapter", mh), "ffn_adapter": part.get("output_adapter", output)}
        return bool(places.get(site.split(".")[0])) or (site == "invertible" and method.endswith("_inv"))
    if method in PROJECTION_METHODS:
        kind, _, matrix = site.rpartition(".")
        return site in ("ffn_in", "ffn_out") or (kind.endswith("attention") and matrix in PROJECTION_SITES)
    return site == OTHER_SITES.get(method)


def split_weights(parts: list[dict[str, Any]], weights: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    shares: list[dict[str, torch.Tensor]] = [{} for _ in parts]
    for name, value in weights.items():
        owners = [i for i, part in enumerate(parts) if owns(part, parse(name).site)]
        if len(owners) != 1:
            what = "no part" if not owners else f"parts {[parts[i]['config'] for i in owners]}"
            raise AssertionError(
                f"canonical tensor {name} belongs to {what} of the union {[p['config'] for p in parts]}"
            )
        shares[owners[0]][name] = value
    return shares


class _Routed(dict):
    """The values of several parts' captures: ``"<part>/<name>"`` is stored as ``name`` in that part's captures."""

    def __init__(self, parts: list[Captures]):
        super().__init__()
        self.parts = parts

    def __setitem__(self, key: str, value: torch.Tensor) -> None:
        index, _, name = key.partition("/")
        self.parts[int(index)].values[name] = value


def combined(captures: list[Captures | None]) -> Captures | None:
    present = [c for c in captures if c is not None]
    if not present:
        return None
    paths = [(path, pick, f"{i}/{name}") for i, c in enumerate(present) for path, pick, name in c.paths]
    calls = [(path, pick, f"{i}/{name}") for i, c in enumerate(present) for path, pick, name in c.calls]
    return Captures(values=_Routed(present), paths=paths, calls=calls)


@defines("union", "mam", "unipelt")
class UnionOracle(MethodOracle):
    def edits(self, model, spec, weights, config) -> tuple[list[Edit], Captures | None]:
        parts = parts_of(config)
        edits: list[Edit] = []
        captures = []
        for part, share in zip(parts, split_weights(parts, weights), strict=True):
            if part.get("use_gating") and part["config"] in BOTTLENECKS + PROJECTION_METHODS:
                part_edits, part_captures = gated_edits(model, spec, share, part)
            else:
                part_edits, part_captures = oracle_for(part["config"]).edits(model, spec, share, part)
            edits += part_edits
            captures.append(part_captures)
        return edits, combined(captures)

    def prepare_inputs(self, model, spec, weights, config, inputs):
        parts = parts_of(config)
        for part, share in zip(parts, split_weights(parts, weights), strict=True):
            inputs = oracle_for(part["config"]).prepare_inputs(model, spec, share, part, inputs)
        return inputs

    @contextlib.contextmanager
    def hooks(self, model, spec, weights, config, inputs) -> Iterator[None]:
        parts = parts_of(config)
        with contextlib.ExitStack() as stack:
            for part, share in zip(parts, split_weights(parts, weights), strict=True):
                hooks = getattr(oracle_for(part["config"]), "hooks", None)
                if hooks is not None:
                    stack.enter_context(hooks(model, spec, share, part, inputs))
            yield

    def finish_output(self, output, config, inputs):
        for part in reversed(parts_of(config)):
            output = oracle_for(part["config"]).finish_output(output, part, inputs)
        return output


def gated_edits(model, spec, weights, part) -> tuple[list[Edit], Captures | None]:
    """A bottleneck or LoRA-family part's edits, each scaled by the gate at its site."""
    gates: dict[str, dict[str, torch.Tensor]] = {}
    for name, value in weights.items():
        parsed = parse(name)
        if parsed.tensor in GATES:
            gates.setdefault(f"{parsed.layer}.{parsed.site}", {})[parsed.tensor] = value
    ungated = {name: value for name, value in weights.items() if parse(name).tensor not in GATES}
    config = {k: v for k, v in part.items() if k != "use_gating"}
    edits, captures = oracle_for(config["config"]).edits(model, spec, ungated, config)
    places = edit_places(model, spec, edits, config)
    missing = sorted(set(places) - set(gates))
    if missing:
        raise KeyError(f"gated {config['config']}: no canonical gate_weight / gate_bias at {missing}")
    return [gated(edit, gates[place]) for edit, place in zip(edits, places, strict=True)], captures


def edit_places(model, spec, edits: list[Edit], config: dict[str, Any]) -> list[str]:
    """``"<layer>.<site>"`` of each edit of a bottleneck or LoRA-family oracle, in order."""
    if config["config"] in PROJECTION_METHODS:
        from .lora import resolve
        from .projections import projections

        definition = resolve(config)
        return [f"{p.layer}.{p.site}" for p in projections(model, spec) if definition.adapts(p)]
    return [edit.place for edit in edits]


def gate(tensors: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """(..., 1): sigmoid(x gate_weight^T + gate_bias), one gate per token."""
    weight, bias = tensors["gate_weight"], tensors["gate_bias"]
    return torch.sigmoid(x @ weight.T.to(x.dtype) + bias.to(x.dtype))


def gated(edit: Edit, tensors: dict[str, torch.Tensor]) -> Edit:
    if getattr(edit, "parts", None) is not None:  # a bottleneck: residual + g * up, then the sub-layer's end

        def bottleneck(args: tuple[Any, ...], h: torch.Tensor, region: Region) -> torch.Tensor:
            x, residual, up = edit.parts(args, h, region)
            return edit.finish(residual + gate(tensors, x) * up, region)

        return dataclasses.replace(edit, fn=bottleneck)

    def projection(args: tuple[Any, ...], output: torch.Tensor, region: Region) -> torch.Tensor:
        adapted = edit.fn(args, output, region)
        return output + gate(tensors, region.take(args[0])) * (adapted - output)

    return dataclasses.replace(edit, fn=projection)
