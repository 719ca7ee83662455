"""What changed between last night's matrix and tonight's: regressions first, then fixes, new and removed rows.

Cells are compared per transformers version. A version that left the matrix and a newer one of the same major
version that came are one lane that moved on (the newest 5.x going from 5.24.0 to 5.25.0), and are compared with
each other: that is where a new transformers release breaking an adapter shows up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from reports.cells import FAILED, GAP, NOT_RUN, PASSED
from reports.matrix import MARK
from reports.merge import version_key
from reports.results import short_id


MAX_LISTED_CHECKS = 3


@dataclass(frozen=True)
class CellChange:
    arch: str
    feature: str
    version: str  # tonight's transformers version
    previous_version: str  # last night's version of the same lane; equal to `version` unless the lane moved
    before: str  # status
    after: str  # status
    detail: str  # why the cell is what it is now: failing checks, the gap reason, ...

    @property
    def where(self) -> str:
        moved = f" (was {self.previous_version})" if self.previous_version != self.version else ""
        return f"{self.arch} × {self.feature} on transformers {self.version}{moved}"


@dataclass(frozen=True)
class Changes:
    lanes: tuple[tuple[str, str], ...]  # (previous version, current version) compared
    regressions: tuple[CellChange, ...]  # was passed, now failed
    fixes: tuple[CellChange, ...]  # was failed, now passed
    newly_supported: tuple[CellChange, ...]  # was a gap or not run, now passed
    other: tuple[CellChange, ...]  # any other status change
    new_architectures: tuple[str, ...]
    removed_architectures: tuple[str, ...]
    new_versions: tuple[str, ...]
    removed_versions: tuple[str, ...]

    @property
    def any(self) -> bool:
        return any(
            (
                self.regressions,
                self.fixes,
                self.newly_supported,
                self.other,
                self.new_architectures,
                self.removed_architectures,
                self.new_versions,
                self.removed_versions,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"generated_by": "python -m reports matrix --previous"}


def pair_versions(
    previous: Sequence[str], current: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(pairs compared, versions only tonight, versions only last night)."""
    pairs = [(v, v) for v in current if v in previous]
    gone = [v for v in previous if v not in current]
    new = []
    for version in sorted((v for v in current if v not in previous), key=version_key, reverse=True):
        older = [p for p in gone if _major(p) == _major(version) and version_key(p) < version_key(version)]
        if older:
            moved_from = max(older, key=version_key)
            gone.remove(moved_from)
            pairs.append((moved_from, version))
        else:
            new.append(version)
    pairs.sort(key=lambda pair: version_key(pair[1]))
    return pairs, sorted(new, key=version_key), sorted(gone, key=version_key)


def compare(previous: dict[str, Any], current: dict[str, Any]) -> Changes:
    if previous["impl"] != current["impl"]:
        raise ValueError(f"the previous matrix certifies {previous['impl']!r}, this one {current['impl']!r}")
    pairs, new_versions, removed_versions = pair_versions(
        previous["transformers_versions"], current["transformers_versions"]
    )
    before_archs = {a["name"]: a for a in previous["architectures"]}
    after_archs = {a["name"]: a for a in current["architectures"]}
    features = [f["name"] for f in current["features"]]
    features += [f["name"] for f in previous["features"] if f["name"] not in features]
    groups: dict[str, list[CellChange]] = {"regressions": [], "fixes": [], "newly_supported": [], "other": []}
    for name in sorted(set(before_archs) & set(after_archs)):
        for feature in features:
            for before_version, after_version in pairs:
                before = _cell(before_archs[name], feature, before_version)
                after = _cell(after_archs[name], feature, after_version)
                if before["status"] == after["status"]:
                    continue
                change = CellChange(
                    name, feature, after_version, before_version, before["status"], after["status"], _detail(after)
                )
                groups[_kind(before["status"], after["status"])].append(change)
    return Changes(
        lanes=tuple(pairs),
        regressions=tuple(groups["regressions"]),
        fixes=tuple(groups["fixes"]),
        newly_supported=tuple(groups["newly_supported"]),
        other=tuple(groups["other"]),
        new_architectures=tuple(sorted(set(after_archs) - set(before_archs))),
        removed_architectures=tuple(sorted(set(before_archs) - set(after_archs))),
        new_versions=tuple(new_versions),
        removed_versions=tuple(removed_versions),
    )


def render_changes(changes: Changes) -> str:
    """The changes as markdown, regressions first. Deterministic."""
    lanes = ", ".join(v if p == v else f"{p} → {v}" for p, v in changes.lanes) or "none in common"
    lines = ["# Changes since the previous matrix", "", f"Transformers versions compared: {lanes}.", ""]
    lines += _section(f"Regressions (was {MARK[PASSED]}, now {MARK[FAILED]})", changes.regressions, always=True)
    lines += _section(f"Fixes (was {MARK[FAILED]}, now {MARK[PASSED]})", changes.fixes)
    lines += _section(f"Newly supported (was a gap or not run, now {MARK[PASSED]})", changes.newly_supported)
    lines += _section("Other status changes", changes.other)
    for title, names in (
        ("New architectures", changes.new_architectures),
        ("Removed architectures", changes.removed_architectures),
        ("New transformers versions", changes.new_versions),
        ("Transformers versions no longer in the matrix", changes.removed_versions),
    ):
        if names:
            lines += [f"## {title}", "", *(f"- {n}" for n in names), ""]
    if not changes.any:
        lines += ["Nothing else changed.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _section(title: str, items: Sequence[CellChange], always: bool = False) -> list[str]:
    if not items and not always:
        return []
    lines = [f"## {title}: {len(items)}", ""]
    for c in items:
        lines.append(f"- {c.where}: {MARK[c.before]} → {MARK[c.after]}{' ' + c.detail if c.detail else ''}")
    return [*lines, ""]


def _kind(before: str, after: str) -> str:
    if before == PASSED and after == FAILED:
        return "regressions"
    if before == FAILED and after == PASSED:
        return "fixes"
    if after == PASSED and before in (GAP, NOT_RUN):
        return "newly_supported"
    return "other"


def _cell(arch: dict[str, Any], feature: str, version: str) -> dict[str, Any]:
    return arch["cells"].get(feature, {}).get(version) or {"status": NOT_RUN, "reason": None, "checks": []}


def _detail(cell: dict[str, Any]) -> str:
    status = cell["status"]
    if status == FAILED:
        bad = [c for c in cell.get("checks", []) if c["outcome"] not in ("passed", "gap", "n/a")]
        items = [
            f"`{short_id(c['nodeid'])}` ({c['outcome']}{': ' + ' '.join(c['reason'].split()) if c['reason'] else ''})"
            for c in bad[:MAX_LISTED_CHECKS]
        ]
        more = f", and {len(bad) - MAX_LISTED_CHECKS} more" if len(bad) > MAX_LISTED_CHECKS else ""
        return f"({', '.join(items)}{more})"
    if status == GAP:
        return f"({cell.get('reason') or 'declared gap'})"
    if status == NOT_RUN:
        return "(no check ran)"
    return ""


def _major(version: str) -> tuple[int, ...]:
    return version_key(version)[0][:1]
