"""Self-tests of the reference implementation's composition algebra (parsing, nesting table, round trips)."""

from __future__ import annotations

import pytest

from reference_impl.composition import (
    ALLOWED_NESTINGS,
    BLOCKS,
    Average,
    BatchSplit,
    CompositionBlock,
    Fuse,
    Parallel,
    Split,
    Stack,
    parse_composition,
)


def test_shorthands_become_stacks():
    assert parse_composition("a,b") == Stack("a", "b")
    assert parse_composition(["a", "b"]) == Stack("a", "b")
    assert parse_composition("a") == Stack("a")
    assert parse_composition(None) is None


def test_top_level_block_is_wrapped_in_a_stack():
    assert parse_composition(Parallel("a", "b")) == Stack(Parallel("a", "b"))


def test_nested_list_is_a_stack():
    assert Parallel(["a", "b"], "c") == Parallel(Stack("a", "b"), "c")


@pytest.mark.parametrize(
    "block",
    [
        Stack("a", Fuse("b", "c")),
        Stack(Parallel("a", Average("b", "c", weights=[0.2, 0.8]))),
        Stack(BatchSplit("a", Split("b", "c", splits=[3, 5]), batch_sizes=[1, 2])),
        Stack(Average("a", "b", weights=[1, 3], normalize_weights=True)),
    ],
    ids=["fuse", "parallel-average", "batchsplit-split", "average"],
)
def test_to_dict_round_trip(block):
    restored = CompositionBlock.from_dict(block.to_dict())
    assert restored == block
    assert restored.to_dict() == block.to_dict()


def test_average_normalizes_once():
    block = Average("a", "b", weights=[1, 3])
    assert block.weights == [0.25, 0.75]
    assert CompositionBlock.from_dict(block.to_dict()).weights == [0.25, 0.75]
    assert Average("a", "b", weights=[1, 3], normalize_weights=False).weights == [1.0, 3.0]
    with pytest.raises(ValueError, match="sum to 0"):
        Average("a", "b", weights=[1, -1])


@pytest.mark.parametrize(
    "outer, inner",
    [(outer, inner) for outer in BLOCKS.values() for inner in BLOCKS.values() if inner not in ALLOWED_NESTINGS[outer]],
    ids=lambda cls: cls.__name__,
)
def test_forbidden_nesting_names_both_blocks(outer, inner):
    def make(kind, *children):
        if kind is Split:
            return Split(*children, splits=[1] * len(children))
        if kind is BatchSplit:
            return BatchSplit(*children, batch_sizes=[1] * len(children))
        return kind(*children)

    with pytest.raises(ValueError) as err:
        parse_composition(make(outer, make(inner, "a", "b"), "c"))
    assert inner.__name__ in str(err.value) and outer.__name__ in str(err.value)


def test_depth_limit():
    parse_composition(Stack(Parallel(Stack("a", "b"), "c")))
    with pytest.raises(ValueError, match="deep"):
        parse_composition(Stack(Parallel(Stack(Average(Stack("a"), "b"), "c"), "d")))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Split("a", "b", splits=[1]), "one sequence length"),
        (lambda: BatchSplit("a", "b", batch_sizes=[1, -1]), "one batch size"),
        (lambda: Average("a", "b", weights=[1.0]), "one weight per child"),
        (lambda: Stack(), "at least one"),
        (lambda: Stack("a.b,c"), "not"),
        (lambda: parse_composition(3), "not int"),
        (lambda: parse_composition("a,,b"), "empty adapter name"),
    ],
)
def test_bad_blocks_say_what_is_wrong(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_unknown_block_type_in_dict():
    with pytest.raises(ValueError, match="unknown composition block 'Chain'"):
        CompositionBlock.from_dict({"type": "Chain", "children": ["a"]})


def test_block_support_per_method_family_follows_the_manifest():
    """The blocks each family of the reference takes part in are the manifest's, less the reference's declared gaps."""
    from conformance.expectations import BLOCK_FEATURE, expected_blocks
    from conformance.impls.reference import IMPLEMENTATION
    from conformance.methods import METHODS

    for name, method in METHODS.items():
        gaps = {block for block, feature in BLOCK_FEATURE.items() if f"{feature}:{name}" in IMPLEMENTATION.gaps}
        assert IMPLEMENTATION.claimed_blocks(method.config) == expected_blocks(name) - gaps, name
