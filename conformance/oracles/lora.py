"""The LoRA family by its definitions: LoRA, DoRA and (IA)^3 (the oracle for configs ``lora``, ``dora``, ``ia3``).

Canonical tensors (``conformance.weights``), per adapted projection, keyed ``"<layer>.<site>.<tensor>"`` with the
sites ``self_attention.q|k|v|o``, ``cross_attention.q|k|v|o``, ``ffn_in``, ``ffn_out``:

==========  =======================  ===================================================================
method      tensors                  output of the adapted projection
==========  =======================  ===================================================================
LoRA        ``A`` (r, in),           ``h = W x + b + s B A x``, with ``s = alpha / r``
            ``B`` (out, r)
DoRA        ``A``, ``B`` as LoRA,    ``h = m * (W + s B A) x / ||W + s B A||_row + b`` (Liu et al. 2024; the norm of
            ``magnitude`` (out,)     each output feature's row, over the inputs; the bias outside the decomposition)
IA3         ``scale`` (out,)         ``h = (W x + b) * alpha * scale`` (the bias is scaled too; ``alpha`` defaults to 1)
==========  =======================  ===================================================================

``W`` (out, in) and ``b`` (out,) are the adapted matrix's own: on a fused qkv projection, the rows and bias entries of
the output features that belong to q, k or v (``conformance.oracles.projections``: GPT-2's blocked Conv1D, DeBERTa's
per_head layout), so ``out`` is that matrix's output size (narrower for k and v under grouped-query attention).
transformers' Conv1D stores its weight transposed; the formulas use it as (out, in).

Which projections are adapted is read off the config dict, with AdapterHub ``adapters`` 1.3's defaults (``DEFAULTS``):

- ``selfattn_lora``: the ``attn_matrices`` (``q``, ``k``, ``v``; ``o``, the attention output projection, is the
  suite's extension: AdapterHub adapts only q, k, v) of every attention block, self- and cross-attention alike
  (AdapterHub's "selfattn" projections include T5's EncDecAttention);
- ``intermediate_lora``: ``ffn_in``, the FFN input projection (for IA3 this is AdapterHub's FFN vector: it scales the
  projection's output *before* the activation, where the IA3 paper scales the activation's output);
- ``output_lora``: ``ffn_out``, the FFN output projection;
- ``leave_out``: global layer indices (encoder first, then decoder) that get nothing.

AdapterHub's IA3 forward scales ``W x + b``, bias included; this oracle agrees (its merge scales only ``W``, so merged
and unmerged AdapterHub IA3 differ where the bias is non-zero). AdapterHub's DoRA differs from the definition above:
its norm leaves out ``s`` (``||W + B A||``) and its magnitude scales the bias too.

The outputs are those of eval mode (dropout is the identity). ``init_weights`` and ``init_weights_seed`` only choose
initial weights, which the oracle gets. A field it does not define (``composition_mode`` other than the method's,
``use_gating``, VeRA's ``vera_d``/``vera_b``, a ``dtype`` other than float32, an unknown key) raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from conformance.weights import key

from .base import Edit, EditFn, MethodOracle, Region
from .projections import Projection, projections, weight_of
from .registry import defines


# AdapterHub adapters 1.3 (LoRAConfig, DoRAConfig, IA3Config): every field the oracle knows, with its default.
LORA_DEFAULTS: dict[str, Any] = {
    "selfattn_lora": True,
    "intermediate_lora": False,
    "output_lora": False,
    "leave_out": [],
    "r": 8,
    "alpha": 8,
    "dropout": 0.0,
    "attn_matrices": ["q", "v"],
    "composition_mode": "add",
    "init_weights": "lora",
    "init_weights_seed": None,
    "use_gating": False,
    "use_dora": False,
    "vera_d": None,
    "vera_b": None,
    "dtype": None,
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "lora": LORA_DEFAULTS,
    "dora": {**LORA_DEFAULTS, "use_dora": True},
    "ia3": {
        **LORA_DEFAULTS,
        "intermediate_lora": True,
        "r": 1,
        "alpha": 1,
        "attn_matrices": ["k", "v"],
        "composition_mode": "scale",
        "init_weights": "ia3",
    },
}
ATTENTION_MATRICES = ("q", "k", "v", "o")
TENSORS = {"lora": ("A", "B"), "dora": ("A", "B", "magnitude"), "ia3": ("scale",)}


@dataclass(frozen=True)
class Definition:
    """A config dict, resolved: which formula, its constants and where it applies."""

    formula: str  # "lora", "dora" or "ia3"
    r: int
    alpha: float
    attn_matrices: tuple[str, ...]
    selfattn: bool
    intermediate: bool
    output: bool
    leave_out: frozenset[int]

    @property
    def scaling(self) -> float:
        return self.alpha if self.formula == "ia3" else self.alpha / self.r

    def adapts(self, projection: Projection) -> bool:
        if projection.layer in self.leave_out:
            return False
        if projection.kind == "ffn":
            return self.intermediate if projection.matrix == "ffn_in" else self.output
        return self.selfattn and projection.matrix in self.attn_matrices


def resolve(config: Mapping[str, Any]) -> Definition:
    name = config.get("config")
    if name not in DEFAULTS:
        raise ValueError(f"the LoRA-family oracle defines {sorted(DEFAULTS)}, not {name!r}")
    fields = {k: v for k, v in config.items() if k != "config"}
    unknown = sorted(set(fields) - set(DEFAULTS[name]))
    if unknown:
        raise ValueError(
            f"{name}: the oracle does not define the field(s) {unknown}; it knows {sorted(DEFAULTS[name])}"
        )
    c = {**DEFAULTS[name], **fields}
    mode = DEFAULTS[name]["composition_mode"]

    def refuse(field: str, why: str) -> None:
        raise ValueError(f"{name}: {field}={c[field]!r} is not defined by the oracle ({why})")

    if c["composition_mode"] != mode:
        refuse("composition_mode", f"{name} composes by {mode!r}")
    if c["use_gating"]:
        refuse("use_gating", "a gated adapter belongs to a union's oracle")
    if c["vera_d"] is not None or c["vera_b"] is not None:
        refuse("vera_d" if c["vera_d"] is not None else "vera_b", "VeRA has no oracle")
    if c["dtype"] not in (None, "float32"):
        refuse("dtype", "the oracle computes in float32")
    unknown_matrices = [m for m in c["attn_matrices"] if m not in ATTENTION_MATRICES]
    if unknown_matrices:
        refuse("attn_matrices", f"{unknown_matrices} are not among {ATTENTION_MATRICES}")
    if not (isinstance(c["r"], int) and c["r"] > 0):
        refuse("r", "the rank is a positive integer")
    if name == "ia3":
        if c["r"] != 1 or c["dropout"] or c["use_dora"]:
            field = "r" if c["r"] != 1 else "dropout" if c["dropout"] else "use_dora"
            refuse(field, "AdapterHub's IA3 requires r=1, no dropout and no DoRA")
        formula = "ia3"
    else:
        formula = "dora" if c["use_dora"] else "lora"  # AdapterHub: DoRA is LoRA with use_dora
    return Definition(
        formula=formula,
        r=c["r"],
        alpha=float(c["alpha"]),
        attn_matrices=tuple(c["attn_matrices"]),
        selfattn=bool(c["selfattn_lora"]),
        intermediate=bool(c["intermediate_lora"]),
        output=bool(c["output_lora"]),
        leave_out=frozenset(c["leave_out"]),
    )


def covered(output: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
    return output if features is None else output.index_select(-1, features)


def rows(tensor: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
    return tensor if features is None else tensor.index_select(0, features)


def with_covered(output: torch.Tensor, features: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    return new if features is None else output.index_copy(-1, features, new.to(output.dtype))


def _lora(projection: Projection, t: dict[str, torch.Tensor], s: float) -> EditFn:
    features, delta = projection.features, s * (t["B"] @ t["A"])  # (out, in)

    def fn(args: tuple[Any, ...], output: torch.Tensor, region: Region) -> torch.Tensor:
        x = region.take(args[0])
        return with_covered(output, features, covered(output, features) + x @ delta.T.to(x.dtype))

    return fn


def _dora(projection: Projection, t: dict[str, torch.Tensor], s: float) -> EditFn:
    features = projection.features
    weight = rows(weight_of(projection.module).detach(), features)  # (out, in): the matrix's own rows
    bias = getattr(projection.module, "bias", None)
    bias = torch.zeros(weight.shape[0]) if bias is None else rows(bias.detach(), features)
    delta = s * (t["B"] @ t["A"])
    gain = t["magnitude"] / (weight + delta).norm(p=2, dim=1)

    def fn(args: tuple[Any, ...], output: torch.Tensor, region: Region) -> torch.Tensor:
        x = region.take(args[0])
        plain = covered(output, features) - bias  # W x
        return with_covered(output, features, gain * (plain + x @ delta.T.to(x.dtype)) + bias)

    return fn


def _ia3(projection: Projection, t: dict[str, torch.Tensor], s: float) -> EditFn:
    features, factor = projection.features, s * t["scale"]

    def fn(args: tuple[Any, ...], output: torch.Tensor, region: Region) -> torch.Tensor:
        return with_covered(output, features, covered(output, features) * factor.to(output.dtype))

    return fn


FORMULAS = {"lora": _lora, "dora": _dora, "ia3": _ia3}


def _checked_tensors(
    projection: Projection, definition: Definition, weights: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The projection's canonical tensors, each checked against the shape the definition gives it."""
    weight = weight_of(projection.module)
    out = weight.shape[0] if projection.features is None else len(projection.features)
    shapes = {"A": (definition.r, weight.shape[1]), "B": (out, definition.r), "magnitude": (out,), "scale": (out,)}
    found = {}
    for tensor in TENSORS[definition.formula]:
        name = key(projection.layer, projection.site, tensor)
        if name not in weights:
            raise KeyError(
                f"{definition.formula} adapts {projection.site} of layer {projection.layer}: no tensor {name!r}"
            )
        value = weights[name].detach().float()
        if tuple(value.shape) != shapes[tensor]:
            raise ValueError(
                f"{name}: {definition.formula} with r={definition.r} on {projection.path} gives it the shape "
                f"{shapes[tensor]}, the implementation {tuple(value.shape)}"
            )
        found[tensor] = value
    return found


@defines("lora", "ia3", "dora")
class LoRAFamilyOracle(MethodOracle):
    def edits(
        self, model: torch.nn.Module, spec: Any, weights: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> tuple[list[Edit], None]:
        """One stage-0 edit per adapted matrix, on its projection module (a fused qkv gets one per matrix, on disjoint
        features): LoRA adds ``s B A x`` to the matrix's output features, DoRA rescales them, IA3 scales them. Inside
        a composition block each edit reads the input rows or positions of its branch (``Region``)."""
        definition = resolve(config)
        adapted = [p for p in projections(model, spec) if definition.adapts(p)]
        expected = {key(p.layer, p.site, t) for p in adapted for t in TENSORS[definition.formula]}
        extra = sorted(set(weights) - expected)
        if extra:
            raise ValueError(
                f"the implementation has tensors {extra}, but {config['config']} with this config adapts no such "
                "place (a left-out layer, a matrix not in attn_matrices, an FFN projection not asked for?)"
            )
        formula = FORMULAS[definition.formula]
        found = [
            Edit(p.path, formula(p, _checked_tensors(p, definition, weights), definition.scaling), stage=0)
            for p in adapted
        ]
        return found, None
