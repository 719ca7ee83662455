"""The vocabulary of the support matrix: features (table columns) and the adapter methods behind them.

This module is data only and imports nothing heavy: the plugin, the registry and the reports all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .modality import MODALITIES as _MODALITIES


@dataclass(frozen=True)
class Feature:
    """One column of the support matrix."""

    name: str
    title: str  # column heading in the model table; "<br>" breaks the heading as in the AdapterHub table
    anchor: bool  # True when the AdapterHub model table has this column


# Column order of the model table: the AdapterHub columns first, in their order, then ours.
FEATURES: tuple[Feature, ...] = (
    Feature("bottleneck", "(Bottleneck)<br> Adapters", anchor=True),
    Feature("prefix_tuning", "Prefix<br> Tuning", anchor=True),
    Feature("lora", "LoRA", anchor=True),
    Feature("compacter", "Compacter", anchor=True),
    Feature("fusion", "Adapter<br> Fusion", anchor=True),
    Feature("invertible", "Invertible<br> Adapters", anchor=True),
    Feature("parallel", "Parallel<br> block", anchor=True),
    Feature("prompt_tuning", "Prompt<br> Tuning", anchor=True),
    Feature("reft", "ReFT", anchor=True),
    Feature("ia3", "IA3", anchor=False),
    Feature("dora", "DoRA", anchor=False),
    Feature("unipelt", "UniPELT", anchor=False),
    Feature("stack", "Stack", anchor=False),
    Feature("split", "Split", anchor=False),
    Feature("batch_split", "BatchSplit", anchor=False),
    Feature("average", "Average", anchor=False),
    Feature("heads", "Heads", anchor=False),
    Feature("class_conversion", "Class<br> conversion", anchor=False),
    Feature("adapter_model", "Adapter<br> model", anchor=False),
    Feature("accelerate", "accelerate", anchor=False),
    Feature("torch_compile", "torch.<br>compile", anchor=False),
    Feature("bfloat16", "bfloat16", anchor=False),
    Feature("trainer", "Trainer", anchor=False),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)

# Every adapter method (the config string name, the --method value) and the feature column it counts towards.
METHOD_FEATURE: dict[str, str] = {
    "seq_bn": "bottleneck",
    "double_seq_bn": "bottleneck",
    "par_bn": "bottleneck",
    "lora": "lora",
    "ia3": "ia3",
    "dora": "dora",
    "prefix_tuning": "prefix_tuning",
    # MAM is prefix tuning plus a parallel bottleneck (checked on its own under "bottleneck"): it counts towards
    # prefix tuning, so that an architecture without prefix tuning declares one gap that covers MAM too.
    "mam": "prefix_tuning",
    "unipelt": "unipelt",
    "compacter": "compacter",
    "compacter++": "compacter",
    "seq_bn_inv": "invertible",
    "double_seq_bn_inv": "invertible",
    "prompt_tuning": "prompt_tuning",
    "loreft": "reft",
    "noreft": "reft",
    "direft": "reft",
}
METHOD_NAMES: tuple[str, ...] = tuple(METHOD_FEATURE)

# The modality names; what each one means (inputs, heads, generation) is in architectures.modality.
MODALITIES: tuple[str, ...] = tuple(_MODALITIES)


def feature(name: str) -> Feature:
    for f in FEATURES:
        if f.name == name:
            return f
    raise KeyError(f"unknown feature {name!r}; known features: {', '.join(FEATURE_NAMES)}")
