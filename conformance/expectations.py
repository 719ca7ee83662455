"""The suite's expectations, in one place: which composition block each adapter method takes part in and which
capabilities it has. Data, owned by the suite; implementations are compared with it, never the other way round.

The blocks follow AdapterHub ``adapters``' documented support (``supported_compositions`` of its method layers), with
two deliberate extensions where the suite defines the behaviour and its checks verify it: the LoRA family in
``Split`` (an update computed per position can be sliced by position) and ``Stack`` for prompt tuning and ReFT
(AdapterHub applies only the first adapter of any setup there). Architectures override the manifest only through
their declared gaps; implementations only through their declared gaps (``Implementation.gaps``).

``python -m conformance.expectations`` prints the block table of the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from architectures.features import METHOD_NAMES


# Column order of the README table; the feature each block's checks count towards.
BLOCK_FEATURE: Mapping[str, str] = MappingProxyType(
    {
        "Stack": "stack",
        "Parallel": "parallel",
        "BatchSplit": "batch_split",
        "Split": "split",
        "Average": "average",
        "Fuse": "fusion",
    }
)
BLOCKS: tuple[str, ...] = tuple(BLOCK_FEATURE)

# Capabilities a method has or lacks, and what having one means (the n/a reason of a check that needs the other).
CAPABILITIES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "mergeable": ("merge_adapter / reset_adapter are defined", "merge_adapter / reset_adapter are undefined"),
        "averageable": ("average_adapter is defined", "average_adapter is undefined"),
        "identity_at_init": ("a config starts as the identity", "no config starts as the identity"),
        "per_layer": ("its adapter has modules in every transformer layer", "its adapter is one model-level module"),
        "random_init": ("its initial weights are drawn at random", "its initial weights are fixed"),
    }
)


@dataclass(frozen=True)
class MethodGroup:
    """Methods that take part in the same blocks: one row of the block table."""

    label: str  # the row's name in the README table
    methods: tuple[str, ...]
    blocks: frozenset[str]
    refused: Mapping[str, str]  # {block not taken part in: why it is undefined}
    lacks: Mapping[str, frozenset[str]] = field(default_factory=dict)  # {capability: methods that lack it}
    reasons: Mapping[str, str] = field(default_factory=dict)  # {capability: why these methods lack it}


_EVERY_BLOCK = frozenset(BLOCKS)
_NOT_MERGEABLE = "its adapters are modules of their own, not a change of existing weights"

GROUPS: tuple[MethodGroup, ...] = (
    MethodGroup(
        "bottleneck (`seq_bn`, `double_seq_bn`, `par_bn`), Compacter",
        ("seq_bn", "double_seq_bn", "par_bn", "compacter", "compacter++"),
        _EVERY_BLOCK,
        {},
        lacks={"mergeable": frozenset({"seq_bn", "double_seq_bn", "par_bn", "compacter", "compacter++"})},
        reasons={"mergeable": _NOT_MERGEABLE},
    ),
    MethodGroup(
        "LoRA, IA3, DoRA",
        ("lora", "ia3", "dora"),
        _EVERY_BLOCK - {"Fuse"},
        {"Fuse": "a change of a projection's weights has no output of its own for AdapterFusion to attend over"},
        lacks={"random_init": frozenset({"ia3"})},
        reasons={"random_init": "every IA3 vector starts as ones"},
    ),
    MethodGroup(
        "invertible (`seq_bn_inv`, `double_seq_bn_inv`)",
        ("seq_bn_inv", "double_seq_bn_inv"),
        frozenset({"Stack", "Parallel", "BatchSplit"}),
        {
            "Split": "the token embeddings the invertible block transforms are not the layers' sequence in every model",
            "Average": "an average of invertible maps has no exact inverse to apply before the LM head",
            "Fuse": "a fusion of invertible maps has no exact inverse to apply before the LM head",
        },
        lacks={"mergeable": frozenset({"seq_bn_inv", "double_seq_bn_inv"})},
        reasons={"mergeable": _NOT_MERGEABLE},
    ),
    MethodGroup(
        "prefix tuning, unions (MAM, UniPELT)",
        ("prefix_tuning", "mam", "unipelt"),
        frozenset({"Stack", "Parallel", "BatchSplit"}),
        {
            "Split": "a prefix belongs to every position's attention; it cannot be split by position",
            "Average": "prefixes give no per-adapter output to average (AdapterHub defines none either)",
            "Fuse": "a prefix has no output of its own for AdapterFusion to attend over",
        },
        lacks={
            "mergeable": frozenset({"prefix_tuning", "mam", "unipelt"}),
            "identity_at_init": frozenset({"prefix_tuning", "mam", "unipelt"}),
            "per_layer": frozenset({"prefix_tuning", "mam", "unipelt"}),
        },
        reasons={
            "mergeable": _NOT_MERGEABLE,
            "identity_at_init": "any prefix changes what every token attends to",
            "per_layer": "the prefixes of all layers come from one model-level pool per attention kind",
        },
    ),
    MethodGroup(
        "prompt tuning, ReFT",
        ("prompt_tuning", "loreft", "noreft", "direft"),
        frozenset({"Stack"}),
        {
            block: "the suite defines only Stack for it (AdapterHub composes it with no block: it applies the first "
            "adapter of any setup)"
            for block in BLOCKS
            if block != "Stack"
        },
        lacks={
            "mergeable": frozenset({"prompt_tuning", "loreft", "noreft", "direft"}),
            "identity_at_init": frozenset({"prompt_tuning"}),
            "per_layer": frozenset({"prompt_tuning"}),
        },
        reasons={
            "mergeable": _NOT_MERGEABLE,
            "identity_at_init": "prepending any vector changes what the tokens attend to",
            "per_layer": "the prompt is one model-level module at the input",
        },
    ),
)


def group_of(method: str) -> MethodGroup:
    for group in GROUPS:
        if method in group.methods:
            return group
    raise KeyError(f"the expectations manifest has no entry for method {method!r}; add it to one of its GROUPS")


def expected_blocks(method: str) -> frozenset[str]:
    """The composition blocks adapters of ``method`` must take part in."""
    return group_of(method).blocks


def block_reason(method: str, block: str) -> str | None:
    """Why ``method`` takes no part in ``block`` (the implementation must refuse it), or None when it does."""
    if block not in BLOCK_FEATURE:
        raise KeyError(f"unknown composition block {block!r}; known: {', '.join(BLOCKS)}")
    if block in expected_blocks(method):
        return None
    return f"{method} takes no part in {block}: {group_of(method).refused[block]}"


def has(method: str, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    return method not in group_of(method).lacks.get(capability, frozenset())


def capability_reason(method: str, capability: str, wanted: bool) -> str | None:
    """Why a check that needs ``capability`` (or its absence, ``wanted=False``) does not apply to ``method``."""
    if has(method, capability) == wanted:
        return None
    having, lacking = CAPABILITIES[capability]
    if wanted:
        return f"{method}: {lacking} ({group_of(method).reasons[capability]})"
    return f"{method}: {having}"


def render_block_table() -> list[str]:
    """The README's block table, one row per method group."""
    lines = [f"| methods | {' | '.join(BLOCKS)} |", "|---" * (len(BLOCKS) + 1) + "|"]
    for group in GROUPS:
        lines.append(f"| {group.label} |" + "".join(" ✓ |" if block in group.blocks else " |" for block in BLOCKS))
    return lines


def _check_complete() -> None:
    covered = [m for group in GROUPS for m in group.methods]
    missing, twice = set(METHOD_NAMES) - set(covered), {m for m in covered if covered.count(m) > 1}
    assert not missing and not twice, f"manifest: methods missing {sorted(missing)}, listed twice {sorted(twice)}"
    for group in GROUPS:
        assert set(group.refused) == _EVERY_BLOCK - group.blocks, f"{group.label}: a reason for every refused block"
        assert set(group.lacks) == set(group.reasons), f"{group.label}: a reason for every missing capability"


_check_complete()


if __name__ == "__main__":
    print("\n".join(render_block_table()))
