"""Compact committed results: passed, gap and n/a checks are kept as counts per cell, not one record each.

A committed per-version file (docs/per_version/) needs what the table is made of: per (architecture, feature,
method) how many checks passed, were gaps or did not apply (with the reasons), and every other check (failed,
error, skipped) in full. A run's own ``--results`` file keeps one record per check; this is only for committed files.

On loading, the counts become that many stand-in checks (``check == COUNTED_CHECK``), so every reader (cells, merge,
compare) works on them as on real ones; ``counted`` turns a run's real checks into the same stand-ins, so a fresh
run and a committed file compare equal exactly when their counts and failures agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


COUNTED_OUTCOMES = frozenset({"passed", "gap", "n/a"})
COUNTED_CHECK = "(counted)"
# The table reads one detail off the check ids: the static head class of a class-conversion check. Its counts are
# kept per class (the id's parameter) so that the head-class column stays exact.
PER_PARAMETER_FEATURES = frozenset({"class_conversion"})


def _parameter(check: Any) -> str:
    if check.feature not in PER_PARAMETER_FEATURES or not check.nodeid.endswith("]") or "[" not in check.nodeid:
        return ""
    return check.nodeid[check.nodeid.rindex("[") + 1 : -1]


def _groups(checks: Iterable[Any]) -> dict[tuple[str, str, str, str, str, str], int]:
    groups: dict[tuple[str, str, str, str, str, str], int] = {}
    for c in checks:
        key = (c.arch, c.feature, c.method or "", _parameter(c), c.outcome, c.reason)
        groups[key] = groups.get(key, 0) + 1
    return dict(sorted(groups.items()))


def encode(checks: Sequence[Any]) -> tuple[list[list[Any]], list[str], list[Any]]:
    """``(rows, reasons, others)``: a row ``[arch, feature, method, parameter, outcome, reason index, count]`` per
    group of counted checks, the reasons they refer to, and the checks kept in full."""
    groups = _groups(c for c in checks if c.outcome in COUNTED_OUTCOMES)
    reasons = sorted({key[5] for key in groups})
    index = {reason: i for i, reason in enumerate(reasons)}
    rows = [[*key[:5], index[key[5]], count] for key, count in groups.items()]
    return rows, reasons, [c for c in checks if c.outcome not in COUNTED_OUTCOMES]


def expand(rows: Sequence[Sequence[Any]], reasons: Sequence[str], make: Any) -> list[Any]:
    """The stand-in checks of ``rows`` (see ``encode``), built by ``make(arch, feature, method, check, nodeid,
    outcome, reason)``; each has a stable id of its own, numbered within its cell and outcome."""
    numbered: dict[tuple[str, ...], int] = {}
    checks = []
    for arch, feature, method, parameter, outcome, reason, count in rows:
        cell = (arch, feature, method, parameter, outcome)
        first = numbered.get(cell, 0)
        numbered[cell] = first + count
        suffix = f"[{parameter}]" if parameter else ""
        for i in range(first, first + count):
            nodeid = f"{arch}/{feature}/{method or '-'}/{outcome}#{i + 1}{suffix}"
            checks.append(make(arch, feature, method or None, COUNTED_CHECK, nodeid, outcome, reasons[reason]))
    return checks


def counted(checks: Sequence[Any], make: Any) -> list[Any]:
    """``checks`` as a committed file holds them: counted outcomes as stand-ins, the others unchanged."""
    rows, reasons, others = encode(checks)
    return sorted(expand(rows, reasons, make) + others, key=lambda c: (c.nodeid, c.outcome, c.reason))
