"""Composition blocks: how several adapters combine in one forward pass, as a small algebra of nestable blocks.

``Stack(a, b)`` runs a then b; ``Parallel(a, b)`` runs the batch once per branch (the outputs are the branches'
outputs, concatenated along the batch); ``BatchSplit(a, b, batch_sizes=[1, 2])`` runs slices of the batch through
different adapters; ``Split(a, b, splits=[4, 4])`` runs slices of the sequence through different adapters;
``Average(a, b, weights=[...])`` averages the adapters' outputs at each adapter layer; ``Fuse(a, b)`` combines them
with AdapterFusion. Which block may hold which, and which method supports which block, are the tables below.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any


class CompositionBlock:
    """A block of adapter names and nested blocks. Iterating a block yields its children."""

    def __init__(self, *children: str | CompositionBlock):
        if not children:
            raise ValueError(f"{type(self).__name__} needs at least one adapter")
        self.children: tuple[str | CompositionBlock, ...] = tuple(_child(c) for c in children)

    def __iter__(self) -> Iterator[str | CompositionBlock]:
        return iter(self.children)

    def __len__(self) -> int:
        return len(self.children)

    def __contains__(self, item: object) -> bool:
        return item in self.children

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CompositionBlock):
            return type(self) is type(other) and self.to_dict() == other.to_dict()
        # a Stack of names equals the sequence of those names, as set_active_adapters(["a", "b"]) suggests
        if isinstance(other, (tuple, list)) and type(self) is Stack:
            return self.children == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.children))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({', '.join(map(repr, self.children))}{extra})"

    def flatten(self) -> tuple[str, ...]:
        """Every adapter name in the block, depth first, without repeats (computed once: a block does not change,
        and every adapter site asks in every forward)."""
        flat = getattr(self, "_flat", None)
        if flat is None or flat[0] is not self.children:
            flat = self._flat = (self.children, self._flatten())
        return flat[1]

    def _flatten(self) -> tuple[str, ...]:
        names: list[str] = []
        for child in self.children:
            for name in child.flatten() if isinstance(child, CompositionBlock) else (child,):
                if name not in names:
                    names.append(name)
        return tuple(names)

    def _options(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        children = [c.to_dict() if isinstance(c, CompositionBlock) else c for c in self.children]
        return {"type": type(self).__name__, "children": children, **self._options()}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CompositionBlock:
        kind = BLOCKS.get(data.get("type"))
        if kind is None:
            raise ValueError(f"unknown composition block {data.get('type')!r}; known: {', '.join(BLOCKS)}")
        children = [c if isinstance(c, str) else CompositionBlock.from_dict(c) for c in data.get("children", [])]
        options = {k: v for k, v in data.items() if k not in ("type", "children")}
        return kind(*children, **options)


def _child(child: Any) -> str | CompositionBlock:
    if isinstance(child, CompositionBlock):
        return child
    if isinstance(child, str) and child and "," not in child:
        return child
    if isinstance(child, (list, tuple)):
        return Stack(*child)
    raise ValueError(f"a composition block holds adapter names and blocks, not {child!r}")


class Stack(CompositionBlock):
    pass


class Fuse(CompositionBlock):
    @property
    def name(self) -> str:
        """The fusion's name: its adapters, comma-joined."""
        return ",".join(self.flatten())


class Parallel(CompositionBlock):
    pass


class Split(CompositionBlock):
    def __init__(self, *children: str | CompositionBlock, splits: Sequence[int] | int):
        super().__init__(*children)
        splits = [splits] * len(self.children) if isinstance(splits, int) else list(splits)
        if len(splits) != len(self.children) or any(not isinstance(s, int) or s < 0 for s in splits):
            raise ValueError(f"Split needs one sequence length >= 0 per child ({len(self.children)}), got {splits}")
        self.splits = splits

    def _options(self) -> dict[str, Any]:
        return {"splits": list(self.splits)}


class BatchSplit(CompositionBlock):
    def __init__(self, *children: str | CompositionBlock, batch_sizes: Sequence[int] | int):
        super().__init__(*children)
        sizes = [batch_sizes] * len(self.children) if isinstance(batch_sizes, int) else list(batch_sizes)
        if len(sizes) != len(self.children) or any(not isinstance(s, int) or s < 0 for s in sizes):
            raise ValueError(f"BatchSplit needs one batch size >= 0 per child ({len(self.children)}), got {sizes}")
        self.batch_sizes = sizes

    def _options(self) -> dict[str, Any]:
        return {"batch_sizes": list(self.batch_sizes)}


class Average(CompositionBlock):
    """Weighted average of the children's outputs at each adapter layer.

    ``weights`` default to equal; with ``normalize_weights`` (default) they are divided by their sum, so that
    averaging adapters that agree returns their common output.
    """

    def __init__(
        self, *children: str | CompositionBlock, weights: Sequence[float] | None = None, normalize_weights: bool = True
    ):
        super().__init__(*children)
        weights = [1.0] * len(self.children) if weights is None else list(weights)
        if len(weights) != len(self.children):
            raise ValueError(f"Average needs one weight per child ({len(self.children)}), got {weights}")
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) for w in weights):
            raise ValueError(f"Average weights must be finite numbers, got {weights}")
        weights = [float(w) for w in weights]
        if normalize_weights:
            total = sum(weights)
            if total == 0:
                raise ValueError(f"Average weights {weights} sum to 0; they cannot be normalized")
            weights = [w / total for w in weights]
        self.weights = weights
        self.normalize_weights = normalize_weights

    def _options(self) -> dict[str, Any]:
        # weights are stored normalized, so a round trip must not normalize them again
        return {"weights": list(self.weights), "normalize_weights": False}


BLOCKS: dict[str, type[CompositionBlock]] = {
    cls.__name__: cls for cls in (Stack, Fuse, Parallel, Split, BatchSplit, Average)
}

# Which children each block may hold (adapter names are always allowed).
ALLOWED_NESTINGS: dict[type[CompositionBlock], tuple[type[CompositionBlock], ...]] = {
    Stack: (Stack, Fuse, Parallel, Split, BatchSplit, Average),
    Fuse: (Stack,),
    Parallel: (Stack, BatchSplit, Average),
    Split: (Stack, Split, BatchSplit, Average),
    BatchSplit: (Stack, Split, BatchSplit, Average),
    Average: (Stack, Split, BatchSplit),
}
MAX_DEPTH = 3  # blocks nested in blocks, counting the outer Stack that a list of names becomes


def parse_composition(setup: Any) -> CompositionBlock | None:
    """A validated block from a name, a comma string (``"a,b"`` is a Stack), a list (a Stack) or a block."""
    if setup is None:
        return None
    if isinstance(setup, CompositionBlock):
        block = setup
    elif isinstance(setup, str):
        names = [part.strip() for part in setup.split(",")]
        if not all(names):
            raise ValueError(f"adapter setup {setup!r} has an empty adapter name")
        block = Stack(*names)
    elif isinstance(setup, (list, tuple)):
        block = Stack(*setup)
    else:
        raise TypeError(f"an adapter setup is a name, a list, a composition block or None, not {type(setup).__name__}")
    if isinstance(block, (Parallel, BatchSplit, Split, Fuse, Average)):
        block = Stack(block)  # one top-level Stack, so every setup has the same shape
    _validate(block, depth=1)
    return block


def _validate(block: CompositionBlock, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{block!r} nests blocks {depth} deep; at most {MAX_DEPTH} levels are supported")
    allowed = ALLOWED_NESTINGS[type(block)]
    for child in block:
        if isinstance(child, CompositionBlock):
            if not isinstance(child, allowed):
                names = ", ".join(c.__name__ for c in allowed) or "adapter names only"
                raise ValueError(
                    f"{type(child).__name__} cannot be nested in {type(block).__name__}; "
                    f"{type(block).__name__} may hold adapter names and: {names}"
                )
            _validate(child, depth + 1)


AdapterCompositionBlock = CompositionBlock  # AdapterHub's name of the base class
