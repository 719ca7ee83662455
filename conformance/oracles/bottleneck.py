"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020; He et al., 2021) and Compacter (Mahabadi et
al., 2021), by their definition, where AdapterHub ``adapters`` puts them.

Per adapted sub-layer (the attention block: site ``attention_adapter``; the FFN: ``ffn_adapter``), with ``h`` the
output of its last projection (the spec's attention ``output`` / ``ffn_out``; where a norm ends the branch,
x + norm(f(x)) as OLMo 2, that norm's output), ``r`` its residual input (the input of the spec's ``attention_norm`` /
``ffn_norm`` in pre-norm models, of the sub-layer's first projection otherwise) and ``LN`` the spec's norm of the
sub-layer in post-norm models (none in pre-norm and branch-norm ones, which add r to the branch as pre-norm ones do):

    sequential: x = LN(h + r) if original_ln_before (h + r without LN), else h
                residual = h if residual_before_ln is True; x if False; h + r if "post_add"
    parallel:   x = r, residual = h
    up = scaling * (W_up act(W_down ln_before(x) + b_down) + b_up)   (PHM: W = sum_i kron(phm_rule[i], phm_W[i]))
    result = residual + ln_after(up); ln_after(residual + up) if adapter_residual_before_ln (sequential only)
    the projection then outputs the result, and the model adds r (and applies LN) as it always does;
    original_ln_after=False: the sub-layer outputs residual + up itself (pre-norm models).

Tensors (``conformance.weights``): ``<layer>.<site>.down.weight`` (b x h), ``down.bias``, ``up.weight`` (h x b),
``up.bias``, the adapter's own norms ``ln_before.weight`` / ``.bias``, ``ln_after.weight`` / ``.bias``
(``ln_before`` / ``ln_after``: LayerNorm over the hidden features, eps 1e-5, as AdapterHub builds them); PHM: ``down.phm_rule`` (n x n x n), ``down.phm_W`` (n x in/n x out/n) instead of ``down.weight``
(``y = x @ sum_i kron(phm_rule[i], phm_W[i]) + bias``), likewise ``up``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from architectures.live import base_model, get_path, layers_of, resolve_layout
from conformance.weights import key

from .base import Captures, Edit, MethodOracle, Region
from .registry import defines


SEQUENTIAL = {
    "mh_adapter": False,
    "output_adapter": True,
    "is_parallel": False,
    "original_ln_before": True,
    "original_ln_after": True,
    "residual_before_ln": True,
    "ln_before": False,
    "ln_after": False,
    "adapter_residual_before_ln": False,
    "scaling": 1.0,
    "non_linearity": "relu",
    "leave_out": (),
}
# AdapterHub's published defaults per config name; a config dict's own fields override them.
DEFAULTS: dict[str, dict[str, Any]] = {
    "seq_bn": SEQUENTIAL,
    "double_seq_bn": {**SEQUENTIAL, "mh_adapter": True, "original_ln_before": False, "non_linearity": "swish"},
    "par_bn": {**SEQUENTIAL, "is_parallel": True, "original_ln_before": False, "scaling": 4.0},
}
DEFAULTS["compacter"] = {**DEFAULTS["double_seq_bn"], "non_linearity": "gelu"}
DEFAULTS["compacter++"] = {**DEFAULTS["seq_bn"], "non_linearity": "gelu"}

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "swish": F.silu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "identity": lambda x: x,
}

SITES = ("attention_adapter", "ffn_adapter")
ADAPTER_NORM_EPS = 1e-5


@dataclass(frozen=True)
class BottleneckEdit(Edit):
    """An edit that AdapterFusion can take apart: ``parts(args, h, region)`` gives the adapter's (input, residual,
    scaled bottleneck output); ``finish(result, region)`` ends the sub-layer as the config says."""

    parts: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
    finish: Callable[[torch.Tensor, Region], torch.Tensor] | None = None
    place: str = ""  # "<layer>.<site>": where the adapter's (and a fusion's) canonical tensors are


@dataclass(frozen=True)
class SubLayer:
    """Where one bottleneck site sits in the live model: paths from the model's root."""

    layer: int
    site: str
    output: str  # the projection whose output is h
    source: str  # the module whose input is r
    norm: str | None  # post-norm: the sub-layer's layer norm


def model_layers(model: torch.nn.Module, spec: Any) -> Iterator[tuple[int, Any, str]]:
    """(global layer index, stack spec, the layer's path from the model's root), encoder layers first."""
    base = base_model(model)
    prefix = next(name for name, module in model.named_modules() if module is base)
    layout = resolve_layout(spec, model)
    index = 0
    for stack in layout.stacks:
        for number in range(len(layers_of(stack, model))):
            yield index, stack, ".".join(p for p in (prefix, stack.path, str(number)) if p)
            index += 1


def sub_layers(model: torch.nn.Module, spec: Any) -> Iterator[SubLayer]:
    for index, stack, path in model_layers(model, spec):
        pre = stack.norm_position == "pre"
        branch = stack.norm_position == "branch"  # x + norm(f(x)): h is the norm's output, r is added as in pre-norm
        attention = stack.self_attention
        yield SubLayer(
            index,
            "attention_adapter",
            f"{path}.{stack.attention_norm if branch else attention.output}",
            f"{path}.{stack.attention_norm if pre else (attention.qkv or attention.q)}",
            None if pre or branch else f"{path}.{stack.attention_norm}",
        )
        yield SubLayer(
            index,
            "ffn_adapter",
            f"{path}.{stack.ffn_norm if branch else stack.ffn_out}",
            f"{path}.{stack.ffn_norm if pre else stack.ffn_in}",
            None if pre or branch else f"{path}.{stack.ffn_norm}",
        )


def options(config: dict[str, Any]) -> dict[str, Any]:
    name = config["config"]
    unknown = sorted(set(config) - {"config"} - set(DEFAULTS[name]) - IGNORED)
    if unknown:
        raise NotImplementedError(f"the bottleneck oracle does not define {name} fields {unknown} yet")
    return {**DEFAULTS[name], **{k: v for k, v in config.items() if k in DEFAULTS[name]}}


# fields that do not change the forward pass
IGNORED = {"reduction_factor", "init_weights", "init_weights_seed", "dropout"} | {
    "phm_dim",
    "shared_phm_rule",
    "factorized_phm_rule",
    "shared_W_phm",
    "factorized_phm_W",
    "phm_rank",
    "phm_c_init",
    "phm_init_range",
    "hypercomplex_nonlinearity",
    "phm_bias",
}


def adapter_norm(tensors: dict[str, torch.Tensor], name: str, wanted: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """The adapter's own layer norm ``name`` (identity when the config has none)."""
    if not wanted:
        return lambda x: x
    weight, bias = tensors[f"{name}.weight"], tensors[f"{name}.bias"]
    return lambda x: F.layer_norm(x, weight.shape, weight.to(x.dtype), bias.to(x.dtype), ADAPTER_NORM_EPS)


def kronecker_sum(rule: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
    """``sum_i kron(rule[i], blocks[i])``: the (in, out) matrix of a PHM layer."""
    return sum(torch.kron(rule[i], blocks[i]) for i in range(rule.shape[0]))


def projection(tensors: dict[str, torch.Tensor], role: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The down or up projection ``x -> x W^T + b`` (linear) or ``x -> x H + b`` (PHM) from canonical tensors."""
    bias = tensors.get(f"{role}.bias")
    if f"{role}.weight" in tensors:
        matrix = tensors[f"{role}.weight"].T
    elif f"{role}.phm_rule" in tensors:
        matrix = kronecker_sum(tensors[f"{role}.phm_rule"], tensors[f"{role}.phm_W"])
    else:
        raise KeyError(f"no canonical {role}.weight or {role}.phm_rule / {role}.phm_W among {sorted(tensors)}")
    return lambda x: x @ matrix.to(x.dtype) + (0 if bias is None else bias.to(x.dtype))


@defines("seq_bn", "double_seq_bn", "par_bn", "compacter", "compacter++")
class BottleneckOracle(MethodOracle):
    def edits(
        self, model: torch.nn.Module, spec: Any, weights: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> tuple[list[Edit], Captures | None]:
        settings = options(config)
        captures = Captures()
        edits: list[Edit] = []
        used: set[str] = set()
        for place in sub_layers(model, spec):
            wanted = settings["mh_adapter"] if place.site == "attention_adapter" else settings["output_adapter"]
            if not wanted or place.layer in settings["leave_out"]:
                continue
            prefix = key(place.layer, place.site, "")
            tensors = {name[len(prefix) :]: value for name, value in weights.items() if name.startswith(prefix)}
            if not tensors:
                raise KeyError(f"the adapter has no canonical tensors for layer {place.layer}, site {place.site}")
            used.update(prefix + name for name in tensors)
            residual_name = f"{place.layer}.{place.site}.residual"
            captures.on_input(place.source, lambda args: args[0], residual_name)
            norm = None if place.norm is None else get_path(model, place.norm)
            edit = self._edit(place.output, tensors, settings, captures, residual_name, norm)
            edits.append(dataclasses.replace(edit, place=f"{place.layer}.{place.site}"))
        extra = sorted(set(weights) - used)
        if extra:
            raise KeyError(f"canonical tensors at places the config does not adapt: {extra[:4]}")
        return edits, captures

    @staticmethod
    def _edit(
        path: str,
        tensors: dict[str, torch.Tensor],
        settings: dict[str, Any],
        captures: Captures,
        residual_name: str,
        norm: torch.nn.Module | None,
    ) -> BottleneckEdit:
        down, up = projection(tensors, "down"), projection(tensors, "up")
        ln_before = adapter_norm(tensors, "ln_before", settings["ln_before"])
        ln_after = adapter_norm(tensors, "ln_after", settings["ln_after"])
        act = ACTIVATIONS[settings["non_linearity"]]
        scaling = settings["scaling"]
        residual_first = settings["adapter_residual_before_ln"] and not settings["is_parallel"]

        def parts(args: Any, h: torch.Tensor, region: Region) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            r = region.take(captures.values[residual_name])
            if settings["is_parallel"]:
                x, residual = r, h
            else:
                x = residual = h
                if settings["original_ln_before"]:
                    x = h + r
                    if settings["residual_before_ln"] == "post_add":
                        residual = x
                    if norm is not None:
                        x = norm.forward(x)  # the model's own norm, without the hooks on it
                if settings["residual_before_ln"] is False:
                    residual = x
            return x, residual, scaling * up(act(down(ln_before(x))))

        def finish(result: torch.Tensor, region: Region) -> torch.Tensor:
            if settings["original_ln_after"]:
                return result
            if norm is not None:
                raise NotImplementedError("original_ln_after=False in a post-norm model: the oracle has no definition")
            return result - region.take(captures.values[residual_name])  # the layer adds r back

        def fn(args: Any, h: torch.Tensor, region: Region) -> torch.Tensor:
            _, residual, delta = parts(args, h, region)
            result = ln_after(residual + delta) if residual_first else residual + ln_after(delta)
            return finish(result, region)

        return BottleneckEdit(path, fn, stage=1, parts=parts, finish=finish)
