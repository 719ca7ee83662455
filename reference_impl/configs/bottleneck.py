"""Bottleneck adapter configs: sequential (Pfeiffer, Houlsby) and parallel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config


NonLinearity = Literal["relu", "gelu", "tanh", "swish", "silu", "identity"]
BottleneckInit = Literal["bert", "mam"]
ResidualBeforeLn = Literal[True, False, "post_add"]
BottleneckPlacement = Literal["definition", "adapterhub"]


@dataclass(frozen=True)
class BnConfig(AdapterConfig):
    """A bottleneck adapter: down-projection, non-linearity, up-projection times ``scaling``, plus a residual.

    ``mh_adapter`` places one after the attention block, ``output_adapter`` one after the FFN. Where it sits in the
    sub-layer follows AdapterHub ``adapters`` (``h``: the sub-layer's output, ``r``: its residual input, the
    residual stream; ``LN``: the sub-layer's layer norm in post-norm models, none in pre-norm ones):

    - ``original_ln_before``: the adapter reads ``LN(h + r)`` (``h + r`` in pre-norm models), else ``h``;
    - ``residual_before_ln``: the adapter's own residual is ``h`` (True), its input (False), or ``h + r``
      (``"post_add"``);
    - ``original_ln_after``: the model then applies its residual and layer norm to the result as usual; False: the
      sub-layer outputs the adapter's result as it is (pre-norm models only);
    - ``is_parallel``: the adapter reads ``r`` and adds ``scaling`` times its output to ``h`` (He et al., 2021);
    - ``ln_before`` / ``ln_after``: a layer norm of the adapter's own before its down-projection / after its
      up-projection; ``adapter_residual_before_ln``: add the adapter's residual before ``ln_after``, not after.

    ``placement="adapterhub"`` places the adapters as AdapterHub ``adapters`` 1.3 does where its modeling code departs
    from the definition above (the suite's): on BEiT, Gemma 2 / 3, GPT-J, ModernBERT and Phi
    (docs/adapters/placement.md);
    elsewhere the two are the same. Adapters loaded from AdapterHub's files get it.

    ``reduction_factor`` divides the hidden size to give the bottleneck size. ``init_weights='mam'`` zero-initialises
    the up-projection, so the adapter starts as the identity; ``'bert'`` draws both projections from N(0, 0.02).
    """

    method: ClassVar[str] = "bottleneck"

    mh_adapter: bool = False
    output_adapter: bool = True
    is_parallel: bool = False
    original_ln_before: bool = False
    original_ln_after: bool = True
    residual_before_ln: ResidualBeforeLn = True
    ln_before: bool = False
    ln_after: bool = False
    adapter_residual_before_ln: bool = False
    reduction_factor: float = 16
    non_linearity: NonLinearity = "relu"
    scaling: float = 1.0
    init_weights: BottleneckInit = "bert"
    init_weights_seed: int | None = None
    placement: BottleneckPlacement = "definition"

    def __post_init__(self) -> None:
        if self.init_weights == "mam_adapter":  # AdapterHub's name of the scheme
            object.__setattr__(self, "init_weights", "mam")
        super().__post_init__()
        check(self.mh_adapter or self.output_adapter, self, "enable mh_adapter, output_adapter or both")
        check(
            not (self.is_parallel and self.mh_adapter),
            self,
            "a parallel adapter sits beside the FFN only; set mh_adapter=False",
        )
        check(
            isinstance(self.reduction_factor, (int, float)) and self.reduction_factor > 0,
            self,
            f"reduction_factor must be > 0, got {self.reduction_factor!r}",
        )
        check_choice(self, "residual_before_ln", ResidualBeforeLn)
        check(
            not (self.is_parallel and self.original_ln_before),
            self,
            "a parallel adapter reads the sub-layer's input, never its layer-normed output; set original_ln_before=False",
        )
        check_choice(self, "non_linearity", NonLinearity)
        check_choice(self, "init_weights", BottleneckInit)
        check_choice(self, "placement", BottleneckPlacement)

    @property
    def identity_at_init(self) -> bool:
        return self.init_weights == "mam"


@register_config
@dataclass(frozen=True)
class SeqBnConfig(BnConfig):
    """Pfeiffer et al. (2020): one sequential bottleneck adapter after each FFN."""

    name: ClassVar[str] = "seq_bn"
    original_ln_before: bool = True


@register_config
@dataclass(frozen=True)
class DoubleSeqBnConfig(BnConfig):
    """Houlsby et al. (2019): sequential bottleneck adapters after the attention block and after the FFN."""

    name: ClassVar[str] = "double_seq_bn"
    mh_adapter: bool = True
    non_linearity: NonLinearity = "swish"


@register_config
@dataclass(frozen=True)
class ParBnConfig(BnConfig):
    """He et al. (2021): a bottleneck adapter in parallel to each FFN, scaled by ``scaling``."""

    name: ClassVar[str] = "par_bn"
    is_parallel: bool = True
    reduction_factor: float = 2
    scaling: float = 4.0
    init_weights: BottleneckInit = "mam"
