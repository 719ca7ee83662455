"""Adapter configs: frozen dataclasses with string names, cross-field checks and a JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal


NonLinearity = Literal["relu", "gelu", "tanh", "swish", "silu", "identity"]
BottleneckInit = Literal["bert", "mam"]
LoRAInit = Literal["lora", "bert"]
LORA_MATRICES = ("q", "k", "v", "o")


def _check(condition: bool, config: Any, message: str) -> None:
    if not condition:
        raise ValueError(f"{type(config).__name__}: {message}")


@dataclass(frozen=True)
class AdapterConfig:
    """Base of every adapter config. ``name`` is the string users pass instead of the class (``"seq_bn"``)."""

    name: ClassVar[str] = ""
    method: ClassVar[str] = ""  # the family that implements it: "bottleneck", "lora", ...

    leave_out: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "leave_out", tuple(self.leave_out))
        _check(
            all(isinstance(i, int) and i >= 0 for i in self.leave_out),
            self,
            f"leave_out must hold layer indices >= 0, got {self.leave_out}",
        )

    @property
    def identity_at_init(self) -> bool:
        """True when a freshly added adapter of this config leaves the model's outputs unchanged."""
        return False

    def replace(self, **changes: Any) -> AdapterConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = {"config": self.name}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdapterConfig:
        return resolve_config(data)


@dataclass(frozen=True)
class BnConfig(AdapterConfig):
    """A bottleneck adapter: down-projection, non-linearity, up-projection, added to its input (residual).

    ``mh_adapter`` places one after the attention output, ``output_adapter`` one after the FFN output; ``is_parallel``
    feeds the adapter with the FFN input instead and adds ``scaling`` times its output to the FFN output.
    ``reduction_factor`` divides the hidden size to give the bottleneck size. ``init_weights='mam'`` zero-initialises
    the up-projection, so the adapter starts as the identity; ``'bert'`` draws both projections from N(0, 0.01).
    """

    method: ClassVar[str] = "bottleneck"

    mh_adapter: bool = False
    output_adapter: bool = True
    is_parallel: bool = False
    reduction_factor: float = 16
    non_linearity: NonLinearity = "relu"
    scaling: float = 1.0
    init_weights: BottleneckInit = "bert"
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.mh_adapter or self.output_adapter, self, "enable mh_adapter, output_adapter or both")
        _check(
            not (self.is_parallel and self.mh_adapter),
            self,
            "a parallel adapter sits beside the FFN only; set mh_adapter=False",
        )
        _check(
            isinstance(self.reduction_factor, (int, float)) and self.reduction_factor > 0,
            self,
            f"reduction_factor must be > 0, got {self.reduction_factor!r}",
        )
        _check(
            self.non_linearity in NonLinearity.__args__,
            self,
            f"non_linearity must be one of {NonLinearity.__args__}, got {self.non_linearity!r}",
        )
        _check(
            self.init_weights in BottleneckInit.__args__,
            self,
            f"init_weights must be one of {BottleneckInit.__args__}, got {self.init_weights!r}",
        )

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "mam"


@dataclass(frozen=True)
class SeqBnConfig(BnConfig):
    """Pfeiffer et al. (2020): one sequential bottleneck adapter after each FFN."""

    name: ClassVar[str] = "seq_bn"


@dataclass(frozen=True)
class DoubleSeqBnConfig(BnConfig):
    """Houlsby et al. (2019): sequential bottleneck adapters after the attention block and after the FFN."""

    name: ClassVar[str] = "double_seq_bn"
    mh_adapter: bool = True
    non_linearity: NonLinearity = "swish"


@dataclass(frozen=True)
class ParBnConfig(BnConfig):
    """He et al. (2021): a bottleneck adapter in parallel to each FFN, scaled by ``scaling``."""

    name: ClassVar[str] = "par_bn"
    is_parallel: bool = True
    reduction_factor: float = 2
    scaling: float = 4.0
    init_weights: BottleneckInit = "mam"


@dataclass(frozen=True)
class LoRAConfig(AdapterConfig):
    """Hu et al. (2021): a low-rank update ``B @ A * alpha / r`` added to the chosen weight matrices.

    ``selfattn_lora`` adapts the attention matrices named in ``attn_matrices`` (any of q, k, v and o, the output
    projection) of every attention block; ``intermediate_lora`` the FFN input projection; ``output_lora`` the FFN
    output projection. ``init_weights='lora'`` zero-initialises B, so the adapter starts as the identity.
    """

    name: ClassVar[str] = "lora"
    method: ClassVar[str] = "lora"

    r: int = 8
    alpha: float = 8
    dropout: float = 0.0
    selfattn_lora: bool = True
    intermediate_lora: bool = False
    output_lora: bool = False
    attn_matrices: tuple[str, ...] = ("q", "v")
    init_weights: LoRAInit = "lora"
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "attn_matrices", tuple(self.attn_matrices))
        _check(
            isinstance(self.r, int) and self.r > 0, self, f"r (the rank) must be a positive integer, got {self.r!r}"
        )
        _check(self.alpha > 0, self, f"alpha must be > 0, got {self.alpha!r}")
        _check(0.0 <= self.dropout < 1.0, self, f"dropout must be in [0, 1), got {self.dropout!r}")
        unknown = [m for m in self.attn_matrices if m not in LORA_MATRICES]
        _check(not unknown, self, f"unknown attn_matrices {unknown}; choose from {list(LORA_MATRICES)}")
        _check(
            len(set(self.attn_matrices)) == len(self.attn_matrices),
            self,
            f"attn_matrices has duplicates: {self.attn_matrices}",
        )
        _check(
            (self.selfattn_lora and self.attn_matrices) or self.intermediate_lora or self.output_lora,
            self,
            "adapts no matrix; enable selfattn_lora with attn_matrices, intermediate_lora or output_lora",
        )
        _check(
            self.init_weights in LoRAInit.__args__,
            self,
            f"init_weights must be one of {LoRAInit.__args__}, got {self.init_weights!r}",
        )

    @property
    def scaling(self) -> float:
        return self.alpha / self.r

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "lora"


CONFIG_CLASSES: dict[str, type[AdapterConfig]] = {
    cls.name: cls for cls in (SeqBnConfig, DoubleSeqBnConfig, ParBnConfig, LoRAConfig)
}


def resolve_config(config: str | Mapping[str, Any] | AdapterConfig) -> AdapterConfig:
    """An AdapterConfig from a config, its string name (``"lora"``) or its dict form (``{"config": "lora", "r": 4}``)."""
    if isinstance(config, AdapterConfig):
        return config
    if isinstance(config, str):
        if config not in CONFIG_CLASSES:
            raise ValueError(f"unknown adapter config {config!r}; known names: {', '.join(sorted(CONFIG_CLASSES))}")
        return CONFIG_CLASSES[config]()
    if isinstance(config, Mapping):
        data = dict(config)
        name = data.pop("config", None)
        if name not in CONFIG_CLASSES:
            raise ValueError(
                f"adapter config dict needs 'config' set to one of {', '.join(sorted(CONFIG_CLASSES))}, got {name!r}"
            )
        cls = CONFIG_CLASSES[name]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; fields: {sorted(known)}")
        return cls(**data)
    raise TypeError(f"expected an AdapterConfig, a config name or a dict, got {type(config).__name__}")
