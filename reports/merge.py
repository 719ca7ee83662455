"""Merge result files: the files of one transformers version (xdist shards, several --arch runs) become one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reports.results import Architecture, Check, Results


@dataclass(frozen=True)
class VersionResults:
    """Everything known about one transformers version: architectures and checks of all its files."""

    transformers: str
    architectures: dict[str, Architecture]
    checks: tuple[Check, ...]


def version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    """Sort key for version strings without importing `packaging`: 5.0.0rc1 < 5.0.0 < 5.0.0+cpu < 5.1."""
    m = re.match(r"\d+(?:\.\d+)*", version)
    release = tuple(int(part) for part in m.group(0).split(".")) if m else ()
    while release and release[-1] == 0:
        release = release[:-1]
    rest = version[m.end() :] if m else version
    return release, 0 if rest == "" or rest.startswith("+") else -1, rest


REFERENCE = "reference"  # the suite's own implementation (the --impl default)


def implementation(results: Sequence[Results]) -> str:
    """The one implementation all results certify; mixing implementations in one table is an error."""
    impls = {r.impl: r.path for r in results}
    if len(impls) != 1:
        found = ", ".join(f"{impl!r} ({path})" for impl, path in sorted(impls.items()))
        raise ValueError(f"result files certify different implementations: {found}; render one at a time")
    return next(iter(impls))


def merge_by_version(results: Sequence[Results]) -> list[VersionResults]:
    """Group results by transformers version (sorted ascending) and merge the files of each version."""
    groups: dict[str, list[Results]] = {}
    for r in results:
        groups.setdefault(r.transformers, []).append(r)
    return [_merge(version, groups[version]) for version in sorted(groups, key=version_key)]


def _merge(version: str, files: list[Results]) -> VersionResults:
    architectures: dict[str, Architecture] = {}
    source: dict[str, str] = {}
    for r in sorted(files, key=lambda r: r.path):
        for name, arch in r.architectures.items():
            if name not in architectures:
                architectures[name], source[name] = arch, r.path
            elif arch != architectures[name]:
                raise ValueError(
                    f"{source[name]} and {r.path} disagree on architecture {name!r} for transformers {version} "
                    "(modality or declared gaps); remove the stale result file"
                )
    # Identical checks (one test in two overlapping runs) count once; files that disagree about a check's outcome
    # make it one explicit conflict (an error naming both files), so a cell never passes over a disagreement.
    unique = {
        (c.nodeid, c.outcome, c.reason, c.arch, c.feature, c.method, c.check): (c, r.path)
        for r in files
        for c in r.checks
    }
    by_nodeid: dict[str, list[tuple[Check, str]]] = {}
    for found in unique.values():
        by_nodeid.setdefault(found[0].nodeid, []).append(found)
    merged = [check for found in by_nodeid.values() for check in _conflict(found)]
    checks = tuple(sorted(merged, key=lambda c: (c.nodeid, c.outcome, c.reason)))
    return VersionResults(version, dict(sorted(architectures.items())), checks)


def _conflict(found: list[tuple[Check, str]]) -> list[Check]:
    """The records of one nodeid, or, when result files disagree about its outcome, one error that says so."""
    outcomes = {check.outcome for check, _ in found}
    if len(outcomes) == 1:
        return [check for check, _ in found]
    first = min(found, key=lambda f: (f[0].outcome != "passed", f[1]))[0]
    said = "; ".join(
        f"{check.outcome} in {Path(path).name}" + (f" ({check.reason})" if check.reason else "")
        for check, path in sorted(found, key=lambda f: (f[1], f[0].outcome))
    )
    return [replace(first, outcome="error", reason=f"result files disagree: {said}", duration=0.0)]
