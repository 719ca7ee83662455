"""Committed per-version results (docs/per_version/): the model table covers every certified transformers version.

One file per transformers version, `transformers-<version>.json`, each a normal result file. Results given to
`render` are merged into the committed results of their transformers version (all files of one version together, so
a run's shards merge): what they ran replaces what is committed, group by group (architecture, feature, method), and
the rest stays (`--replace` replaces the version whole). The table is rendered from the committed files so updated. `render --check`
therefore verifies a fresh run on one version against the committed results of that version, up to the stamps of
the environment (python, torch, package version, commit, date), the durations and the volatile parts of failure
reasons (tmp paths, object addresses).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reports.compact import COUNTED_CHECK, counted
from reports.merge import REFERENCE, VersionResults, merge_by_version, version_key
from reports.results import Check, Results, load_results, stable_reason, write_results


DEFAULT_BASELINE = "docs/per_version"
FILE_PREFIX = "transformers-"
MAX_LISTED_DIFFERENCES = 20


def default_baseline(impl: str) -> str:
    """Where the committed results of implementation ``impl`` are kept: each implementation in its own directory."""
    return DEFAULT_BASELINE if impl == REFERENCE else f"docs/{impl}/per_version"


def baseline_path(directory: str | os.PathLike[str], version: str) -> Path:
    return Path(directory) / f"{FILE_PREFIX}{version}.json"


def load_baseline(directory: str | os.PathLike[str]) -> list[Results]:
    """The committed result files, one per transformers version; none when the directory does not exist."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    committed = []
    for path in sorted(directory.glob("*.json")):
        results = load_results(path)
        if path != baseline_path(directory, results.transformers):
            raise ValueError(
                f"{path} holds results of transformers {results.transformers}; committed results must be named "
                f"{baseline_path(directory, results.transformers).name} (regenerate them with python -m reports render)"
            )
        committed.append(results)
    return committed


@dataclass(frozen=True)
class Kept:
    """Committed checks of one version that a render kept because the fresh results did not run them."""

    transformers: str
    architectures: tuple[str, ...]
    checks: int


def merge_into(committed: Sequence[Results], prepared: Sequence[Results]) -> tuple[list[Results], list[Kept]]:
    """Each of `prepared` (see `committable`) merged into the committed results of its version: what the fresh run
    ran replaces what is committed, group by group (architecture, feature, method); every other committed check stays,
    so results for one architecture never drop the others. Returns the merged results and what was kept."""
    by_version = {r.transformers: r for r in committed}
    merged, kept = [], []
    for fresh in prepared:
        old = by_version.get(fresh.transformers)
        if old is None:
            merged.append(fresh)
            continue
        if old.impl != fresh.impl:  # another implementation's cells are never overwritten
            raise ValueError(
                f"{old.path} holds results of implementation {old.impl!r}, the given results certify {fresh.impl!r}: "
                "keep each implementation's committed results in a directory of its own (--baseline)"
            )
        ran = {(c.arch, c.feature, c.method) for c in fresh.checks}
        staying = tuple(c for c in old.checks if (c.arch, c.feature, c.method) not in ran)
        if staying:
            kept.append(Kept(fresh.transformers, tuple(sorted({c.arch for c in staying})), len(staying)))
        architectures = {
            **{name: a for name, a in old.architectures.items() if name in {c.arch for c in staying}},
            **fresh.architectures,
        }
        selection = {
            key: sorted(set(old.selection.get(key, [])) | set(fresh.selection.get(key, [])))
            for key in ("arches", "methods")
        }
        checks = tuple(sorted(staying + fresh.checks, key=lambda c: (c.nodeid, c.outcome, c.reason)))
        merged.append(Results(fresh.path, fresh.environment, selection, dict(sorted(architectures.items())), checks))
    return merged, kept


def describe_kept(kept: Kept) -> str:
    names = ", ".join(kept.architectures)
    return (
        f"kept {kept.checks} committed checks of transformers {kept.transformers} that the fresh results did not run "
        f"({names}); --replace drops them"
    )


def overlay(committed: Sequence[Results], fresh: Sequence[Results]) -> list[Results]:
    """Committed results, where every transformers version present in `fresh` is replaced by the fresh files."""
    replaced = {r.transformers for r in fresh}
    return [r for r in committed if r.transformers not in replaced] + list(fresh)


@dataclass(frozen=True)
class Update:
    """A committed file that a render writes (or that `--check` finds stale), and what differs."""

    path: Path
    results: Results  # the merged fresh results of one version, durations zeroed
    differences: tuple[str, ...]  # empty when the file is new


def committable(directory: str | os.PathLike[str], fresh: Sequence[Results]) -> list[Results]:
    """The fresh files as the committed files they become: one per version, shards merged, durations zeroed and
    volatile parts of reasons removed. The table is rendered from these, so it never depends on a tmp path."""
    prepared = []
    for merged in merge_by_version(fresh):
        files = [r for r in fresh if r.transformers == merged.transformers]
        prepared.append(_as_results(merged, files, baseline_path(directory, merged.transformers)))
    return prepared


def updates(committed: Sequence[Results], prepared: Sequence[Results]) -> list[Update]:
    """For each of `prepared` (see `committable`): the committed file to write, unless it already agrees."""
    by_version = {r.transformers: r for r in committed}
    found = []
    for results in prepared:
        old = by_version.get(results.transformers)
        if old is None:
            found.append(Update(Path(results.path), results, ()))
            continue
        differences = compare(old, results)
        if differences:
            found.append(Update(Path(results.path), results, tuple(differences)))
    return sorted(found, key=lambda u: version_key(u.results.transformers))


def write_update(update: Update) -> None:
    r = update.results
    write_results(
        update.path, r.environment, r.selection, r.architectures, r.checks, one_check_per_line=True, compact=True
    )


def compare(committed: Results, fresh: Results) -> list[str]:
    """What differs between two results of one version, ignoring environment stamps and durations."""
    differences = []
    if committed.impl != fresh.impl:
        differences.append(f"implementation {committed.impl!r} -> {fresh.impl!r}")
    for name in sorted(set(committed.architectures) | set(fresh.architectures)):
        old, new = committed.architectures.get(name), fresh.architectures.get(name)
        if old is None:
            differences.append(f"+ architecture {name}")
        elif new is None:
            differences.append(f"- architecture {name}")
        elif old != new:
            differences.append(f"~ architecture {name}: modality or declared gaps changed")
    # Both as committed files hold them (counts per cell), so that a file written before compaction compares too.
    old_all, new_all = counted(committed.checks, Check), counted(fresh.checks, Check)
    old_counts, new_counts = _counts(old_all), _counts(new_all)
    for cell in sorted(set(old_counts) | set(new_counts)):
        old, new = old_counts.get(cell, {}), new_counts.get(cell, {})
        if old != new:
            differences.append(f"~ {cell}: {_counted(old)} -> {_counted(new)}")
    old_checks = _by_nodeid([c for c in old_all if c.check != COUNTED_CHECK])
    new_checks = _by_nodeid([c for c in new_all if c.check != COUNTED_CHECK])
    for nodeid in sorted(set(old_checks) | set(new_checks)):
        old, new = old_checks.get(nodeid), new_checks.get(nodeid)
        if old == new:
            continue
        if old is None:
            differences.append(f"+ {nodeid} ({_outcomes(new)})")
        elif new is None:
            differences.append(f"- {nodeid} ({_outcomes(old)})")
        else:
            differences.append(f"~ {nodeid}: {_outcomes(old)} -> {_outcomes(new)}")
    return differences


def describe(update: Update) -> list[str]:
    """Lines for the user: which committed file is new or stale, and (bounded) what differs."""
    if not update.differences:
        return [f"{update.path} is missing: transformers {update.results.transformers} has no committed results yet"]
    lines = [f"{update.path} differs from the fresh results ({len(update.differences)} differences):"]
    lines += [f"  {d}" for d in update.differences[:MAX_LISTED_DIFFERENCES]]
    if len(update.differences) > MAX_LISTED_DIFFERENCES:
        lines.append(f"  ... and {len(update.differences) - MAX_LISTED_DIFFERENCES} more")
    return lines


def _by_nodeid(checks: Sequence[Check]) -> dict[str, tuple[tuple[str, ...], ...]]:
    grouped: dict[str, set[tuple[str, ...]]] = {}
    for c in checks:
        grouped.setdefault(c.nodeid, set()).add(
            (c.outcome, stable_reason(c.reason), c.arch, c.feature, c.method or "", c.check)
        )
    return {nodeid: tuple(sorted(values)) for nodeid, values in grouped.items()}


def _counts(checks: Sequence[Check]) -> dict[str, dict[str, int]]:
    """``{"bert/lora/lora": {"passed": 30, "n/a: <reason>": 2}}``: the counted checks (reports.compact) per cell."""
    counts: dict[str, dict[str, int]] = {}
    for c in checks:
        if c.check == COUNTED_CHECK:
            cell = c.nodeid.rsplit("/", 1)[0] + (c.nodeid[c.nodeid.index("[") :] if c.nodeid.endswith("]") else "")
            key = f"{c.outcome}: {c.reason}" if c.reason else c.outcome
            counts.setdefault(cell, {})[key] = counts.get(cell, {}).get(key, 0) + 1
    return counts


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {key}" for key, n in sorted(counts.items())) or "none"


def _outcomes(records: tuple[tuple[str, ...], ...] | None) -> str:
    return ", ".join(f"{r[0]}: {r[1]}" if r[1] else r[0] for r in records or ())


def _as_results(merged: VersionResults, files: Sequence[Results], path: Path) -> Results:
    """The files of one version as one result file: the newest run's environment, durations zeroed (volatile)."""
    newest = max(files, key=lambda r: (str(r.environment.get("date") or ""), r.path))
    arches = sorted({a for r in files for a in r.selection.get("arches", [])})
    methods = sorted({m for r in files for m in r.selection.get("methods", [])})
    checks = tuple(
        Check(c.arch, c.feature, c.method, c.check, c.nodeid, c.outcome, stable_reason(c.reason), 0.0)
        for c in merged.checks
    )
    # As the committed file holds them: passed, gap and n/a checks as counts per cell (reports.compact).
    checks = tuple(counted(checks, Check))
    # Where each spec came from stays out of committed files: it changes with every edit of a spec.
    architectures = {name: replace(a, provenance={}) for name, a in merged.architectures.items()}
    return Results(str(path), dict(newest.environment), {"arches": arches, "methods": methods}, architectures, checks)
