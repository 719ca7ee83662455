"""Every mutant of the catalogue must be caught by its selection (one subprocess per mutant, so xdist spreads them).

A kill counts when the selection fails with the mutant in. That the catching check passes without it is what the
same CI run checks on the whole suite, so it is not re-run here (``python -m tests.mutants`` re-runs it, to keep
the catalogue's cost under five CPU minutes). Deselect with ``-m "not mutants"`` for a quick local run.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.mutants.catalogue import MUTANTS
from tests.mutants.runner import KILLED, SURVIVED, run


PROPERTY = "mutant"


@pytest.mark.mutants
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_killed(mutant, record_property):
    outcome = run(mutant)
    record_property(PROPERTY, dataclasses.asdict(outcome))
    if outcome.status == SURVIVED:
        pytest.fail(
            f"mutant {mutant.name} ({mutant.bug}) survived: `pytest {outcome.selection}` passed on "
            f"{mutant.file} with the bug in; a check must catch it",
            pytrace=False,
        )
    assert outcome.status == KILLED, f"mutant {mutant.name} could not be run: {outcome.detail}"


def test_mutant_names_are_unique_and_entries_complete():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)), "two entries share a name"
    for mutant in MUTANTS:
        assert mutant.old != mutant.new and mutant.bug and mutant.keyword, f"{mutant.name} is incomplete"
