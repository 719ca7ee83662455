"""AdapterHub ``adapters`` config dicts (``adapter_config.json``'s ``"config"``) <-> the reference's configs.

Only what both mean the same way is translated: bottleneck adapters (``seq_bn``, ``double_seq_bn``, ``par_bn``) and the
LoRA family's LoRA and IA3. A field the reference has no counterpart for must hold its inert value (``use_gating``
False, ...), else the config is refused with a ValueError naming the field: a load never drops what an adapter does.
"""

from __future__ import annotations

from typing import Any

from ..configs import (
    AdapterConfig,
    DoubleSeqBnConfig,
    IA3Config,
    LoRAConfig,
    ParBnConfig,
    PrefixTuningConfig,
    SeqBnConfig,
)


# AdapterHub 1.3's bottleneck fields that the reference's BnConfig has too, under the same name and meaning.
BN_SHARED = (
    "leave_out",
    "mh_adapter",
    "output_adapter",
    "is_parallel",
    "original_ln_before",
    "original_ln_after",
    "residual_before_ln",
    "ln_before",
    "ln_after",
    "adapter_residual_before_ln",
    "reduction_factor",
    "non_linearity",
    "scaling",
    "init_weights",
    "init_weights_seed",
)
# Fields the reference lacks: their value when they change nothing; anything else is refused.
BN_INERT: dict[str, Any] = {
    "cross_adapter": False,
    "dropout": 0.0,
    "inv_adapter": None,
    "phm_layer": False,
    "stochastic_depth": 0.0,
    "use_gating": False,
}
# Fields that mean something only with phm_layer or inv_adapter (refused above): written as AdapterHub's defaults.
BN_UNUSED: dict[str, Any] = {
    "factorized_phm_W": True,
    "factorized_phm_rule": False,
    "hypercomplex_nonlinearity": "glorot-uniform",
    "inv_adapter_reduction_factor": None,
    "learn_phm": True,
    "phm_bias": True,
    "phm_c_init": "normal",
    "phm_dim": 4,
    "phm_init_range": 0.0001,
    "phm_rank": 1,
    "shared_W_phm": False,
    "shared_phm_rule": True,
}
LORA_SHARED = ("leave_out", "selfattn_lora", "intermediate_lora", "output_lora", "attn_matrices", "init_weights_seed")
LORA_INERT: dict[str, Any] = {"use_gating": False, "use_dora": False, "vera_d": None, "vera_b": None, "dtype": None}
PREFIX_SHARED = (
    "prefix_length",
    "bottleneck_size",
    "non_linearity",
    "dropout",
    "flat",
    "encoder_prefix",
    "cross_prefix",
    "init_weights_seed",
)
PREFIX_INERT: dict[str, Any] = {"use_gating": False, "leave_out": []}  # AdapterHub's pool spans every layer
PREFIX_UNUSED: dict[str, Any] = {"shared_gating": True}  # means something only with use_gating
# Activations both name alike (AdapterHub looks names up in transformers' ACT2FN: "gelu" is the exact GELU there).
ACTIVATIONS = ("relu", "gelu", "tanh", "swish", "silu")
BN_CLASSES = (SeqBnConfig, DoubleSeqBnConfig, ParBnConfig)
SUPPORTED = "bottleneck adapters (seq_bn, double_seq_bn, par_bn), LoRA, IA3 and prefix tuning"


def _refuse(what: str) -> ValueError:
    return ValueError(f"AdapterHub checkpoint interop supports {SUPPORTED} only: {what} is not supported")


def _check_inert(data: dict[str, Any], inert: dict[str, Any]) -> None:
    for field, value in inert.items():
        if field in data and data[field] != value:
            raise _refuse(f"{field}={data[field]!r} (the reference has no counterpart; only {value!r} is read)")


def _check_known(data: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:  # a field of a newer AdapterHub may change what the adapter does: said, not ignored
        raise _refuse(f"the unknown config field(s) {unknown}")


def _check_matrices(matrices: Any) -> None:
    if isinstance(matrices, (list, tuple)) and "o" in matrices:
        raise _refuse("attn_matrices 'o' (AdapterHub 1.3 adapts no attention output matrix with it)")


# AdapterHub reads an old file as its writer meant it: a config without "version" (adapter-transformers) names the
# tanh-approximated GELU "gelu" and the exact one "gelu_orig"; LoRA before adapters 1.1.0 scaled by 1, not alpha / r.
LEGACY_ACTIVATIONS = {"gelu": "gelu_new", "gelu_orig": "gelu"}
LORA_SCALING_FIXED = (1, 1, 0)


def as_written(payload: dict[str, Any]) -> Any:
    """The payload's config dict with AdapterHub's fixes for files of older versions applied (a copy)."""
    data = payload["config"]
    if not isinstance(data, dict):
        return data
    data = dict(data)
    version = payload.get("version")
    if version is None and data.get("non_linearity") in LEGACY_ACTIVATIONS:
        data["non_linearity"] = LEGACY_ACTIVATIONS[data["non_linearity"]]
    if isinstance(version, str) and version.startswith("adapters.") and data.get("architecture") == "lora":
        numbers = tuple(int(n) for n in version.removeprefix("adapters.").split(".")[:3] if n.isdigit())
        if numbers < LORA_SCALING_FIXED and data.get("r") != data.get("alpha"):
            data["alpha"] = data.get("r")
    return data


def to_reference(data: Any) -> AdapterConfig:
    """The reference config of an AdapterHub config dict; ValueError naming what cannot be translated."""
    if not isinstance(data, dict):
        raise ValueError(f"AdapterHub's adapter config must be a JSON object, got {data!r}")
    architecture = data.get("architecture")
    try:
        if architecture in (None, "bottleneck"):
            return _bottleneck(data)
        if architecture == "lora":
            return _lora(data)
        if architecture == "prefix_tuning":
            _check_known(data, {"architecture", *PREFIX_SHARED, *PREFIX_INERT, *PREFIX_UNUSED})
            _check_inert(data, PREFIX_INERT)
            return PrefixTuningConfig(**{k: data[k] for k in PREFIX_SHARED if k in data})
    except (TypeError, ValueError) as err:
        if "interop supports" in str(err):
            raise
        raise ValueError(f"AdapterHub config {data!r} cannot be read by the reference: {err}") from None
    raise _refuse(f"architecture {architecture!r}")


def _bottleneck(data: dict[str, Any]) -> AdapterConfig:
    _check_known(data, {"architecture", *BN_SHARED, *BN_INERT, *BN_UNUSED})
    _check_inert(data, BN_INERT)
    fields = {k: data[k] for k in BN_SHARED if k in data}
    if fields.get("non_linearity", "relu") not in ACTIVATIONS:
        raise _refuse(f"non_linearity {fields['non_linearity']!r} (supported: {', '.join(ACTIVATIONS)})")
    if fields.get("init_weights") == "mam_adapter":
        fields["init_weights"] = "mam"
    if fields.get("is_parallel"):
        cls = ParBnConfig
    elif fields.get("mh_adapter") and fields.get("output_adapter", True):
        cls = DoubleSeqBnConfig
    else:
        cls = SeqBnConfig
    # placed where AdapterHub places it (the same as the definition but on BEiT, Gemma 2 / 3, GPT-J, ModernBERT and Phi)
    return cls(**fields, placement="adapterhub")  # every field given: the class only names it


def _lora(data: dict[str, Any]) -> AdapterConfig:
    _check_known(
        data, {"architecture", *LORA_SHARED, *LORA_INERT, "r", "alpha", "dropout", "composition_mode", "init_weights"}
    )
    _check_inert(data, LORA_INERT)
    _check_matrices(data.get("attn_matrices"))
    fields = {k: data[k] for k in LORA_SHARED if k in data}
    mode = data.get("composition_mode", "add")
    if mode == "add":
        return LoRAConfig(
            **fields,
            r=data.get("r", 8),
            alpha=data.get("alpha", 8),
            dropout=data.get("dropout", 0.0),
            init_weights=data.get("init_weights", "lora"),
        )
    if mode == "scale":  # IA3: AdapterHub multiplies by lora_B * alpha (r is 1): the reference by its vector alone
        for field, value in (("r", 1), ("alpha", 1), ("dropout", 0.0), ("init_weights", "ia3")):
            if data.get(field, value) != value:
                raise _refuse(f"an IA3 (composition_mode 'scale') config with {field}={data[field]!r}")
        return IA3Config(**fields)
    raise _refuse(f"composition_mode {mode!r}")


def from_reference(config: AdapterConfig) -> dict[str, Any]:
    """AdapterHub's config dict for ``config``; ValueError for a config AdapterHub would not run the same way."""
    if type(config) in BN_CLASSES:
        data = {k: getattr(config, k) for k in BN_SHARED}  # not placement: AdapterHub has its own, one per model
        if data["non_linearity"] not in ACTIVATIONS:
            raise _refuse(f"non_linearity {data['non_linearity']!r} (supported: {', '.join(ACTIVATIONS)})")
        if data["init_weights"] == "mam":
            data["init_weights"] = "mam_adapter"
        return {**data, **BN_INERT, **BN_UNUSED, "leave_out": list(config.leave_out)}
    if type(config) in (LoRAConfig, IA3Config):
        _check_matrices(config.attn_matrices)
        data = {k: getattr(config, k) for k in LORA_SHARED}
        data.update(leave_out=list(config.leave_out), attn_matrices=list(config.attn_matrices))
        if isinstance(config, IA3Config):
            extra = {"r": 1, "alpha": 1, "dropout": 0.0, "composition_mode": "scale", "init_weights": "ia3"}
        else:
            extra = {
                "r": config.r,
                "alpha": config.alpha,
                "dropout": config.dropout,
                "composition_mode": "add",
                "init_weights": config.init_weights,
            }
        return {"architecture": "lora", **data, **extra, **LORA_INERT}
    if type(config) is PrefixTuningConfig:
        _check_inert({"use_gating": config.use_gating, "leave_out": list(config.leave_out)}, PREFIX_INERT)
        data = {k: getattr(config, k) for k in PREFIX_SHARED}
        return {"architecture": "prefix_tuning", **data, **PREFIX_INERT, **PREFIX_UNUSED}
    raise _refuse(f"a {config.name!r} adapter")
