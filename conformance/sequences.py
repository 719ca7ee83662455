"""Comparing generated sequences: what a row says ends at its first end-of-sequence token.

A batch generated together is padded to its longest row, so a row that ended early carries padding that the same row
generated alone does not (``[[2, 2, 1, 1, 1]]`` against ``[[2, 2]]``): equal outputs compare equal up to each row's
end-of-sequence token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def end_of_sequence_ids(model: Any) -> frozenset[int]:
    """The end-of-sequence token ids ``model.generate`` stops at (generation config first, then the model config)."""
    for config in (getattr(model, "generation_config", None), getattr(model, "config", None)):
        value = getattr(config, "eos_token_id", None)
        if value is not None:
            return frozenset([value] if isinstance(value, int) else value)
    return frozenset()


def until_end_of_sequence(rows: Iterable[Sequence[int]], start: int, eos_ids: Iterable[int]) -> list[list[int]]:
    """Each row up to and including its first end-of-sequence token at or after ``start`` (the prompt, which may hold
    any token, is kept whole); rows without one are kept whole."""
    eos = set(eos_ids)
    cut = []
    for row in rows:
        row = [int(token) for token in row]
        end = next((i + 1 for i in range(start, len(row)) if row[i] in eos), len(row))
        cut.append(row[:end])
    return cut


def same_generation(first: Any, second: Any, start: int, eos_ids: Iterable[int]) -> bool:
    """Whether two batches of generated ids (tensors or lists) say the same, row by row, up to end-of-sequence."""
    eos = list(eos_ids)
    as_rows = [x.tolist() if hasattr(x, "tolist") else x for x in (first, second)]
    return until_end_of_sequence(as_rows[0], start, eos) == until_end_of_sequence(as_rows[1], start, eos)
