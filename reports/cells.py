"""Cell semantics: from checks to (architecture, feature) cells, per transformers version and over versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from architectures.features import FEATURES, Feature
from reports.merge import VersionResults, implementation, merge_by_version
from reports.results import OUTCOMES, UNCOUNTED, Check, Results


PASSED = "passed"  # at least one check, every (non-gap) check passed
GAP = "gap"  # unsupported by design: a declared gap, with its reason
FAILED = "failed"  # a check failed, errored, or was skipped without a declared gap
NOT_RUN = "not_run"  # no check ran and no gap is declared
NOT_APPLICABLE = "not_applicable"  # every check behind the cell does not apply (the expectations manifest says why)
STATUSES: tuple[str, ...] = (PASSED, GAP, FAILED, NOT_RUN, NOT_APPLICABLE)


@dataclass(frozen=True)
class VersionCell:
    """One cell on one transformers version."""

    version: str
    status: str
    reason: str | None  # the gap reason for GAP, the n/a reasons for NOT_APPLICABLE, else None
    checks: tuple[Check, ...]

    @property
    def not_passing(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome != "passed" and c.outcome not in UNCOUNTED)


def version_cell(version: str, checks: Sequence[Check], declared_gap: str | None) -> VersionCell:
    """The cell of one version from the checks of one (arch, feature) and the arch's declared gap, if any."""
    checks = tuple(checks)
    counted = [c for c in checks if c.outcome not in UNCOUNTED]
    if counted:
        # Gap and n/a checks are ignored once anything else ran for the feature: what ran decides.
        status = PASSED if all(c.outcome == "passed" for c in counted) else FAILED
        return VersionCell(version, status, None, checks)
    gaps = [c for c in checks if c.outcome == "gap"]
    if gaps:
        return VersionCell(version, GAP, "; ".join(sorted({c.reason.strip() for c in gaps})), checks)
    if declared_gap is not None:
        return VersionCell(version, GAP, declared_gap, checks)
    if checks:  # only checks that do not apply: neither a pass nor a failure
        return VersionCell(version, NOT_APPLICABLE, "; ".join(sorted({c.reason.strip() for c in checks})), checks)
    return VersionCell(version, NOT_RUN, None, checks)


@dataclass(frozen=True)
class Cell:
    """One cell over every transformers version present for its architecture."""

    status: str
    reason: str | None  # gap reason(s) for GAP, "not run ..." for NOT_RUN, n/a reasons for NOT_APPLICABLE, else None
    per_version: tuple[VersionCell, ...]

    @property
    def versions(self) -> dict[str, str]:
        return {vc.version: vc.status for vc in self.per_version}

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for vc in self.per_version:
            for c in vc.checks:
                counts[c.outcome] += 1
        return counts

    @property
    def failing(self) -> tuple[tuple[str, Check], ...]:
        """(version, check) for every check that keeps this cell from passing."""
        return tuple((vc.version, c) for vc in self.per_version for c in vc.not_passing)


def combine(per_version: Sequence[VersionCell]) -> Cell:
    """A cell is PASSED only if PASSED on every version; otherwise the worst: FAILED, NOT_RUN, GAP, NOT_APPLICABLE."""
    per_version = tuple(per_version)
    by_status: dict[str, list[VersionCell]] = {}
    for vc in per_version:
        by_status.setdefault(vc.status, []).append(vc)
    if not per_version:
        return Cell(NOT_RUN, "not run", per_version)
    if FAILED in by_status:
        return Cell(FAILED, None, per_version)
    if NOT_RUN in by_status:
        missing = by_status[NOT_RUN]
        if len(missing) == len(per_version):
            return Cell(NOT_RUN, "not run", per_version)
        return Cell(NOT_RUN, f"not run on transformers {_versions(missing)}", per_version)
    if GAP in by_status:
        gaps = by_status[GAP]
        reasons: dict[str, list[VersionCell]] = {}
        for vc in gaps:
            reasons.setdefault(vc.reason or "declared gap", []).append(vc)
        if len(reasons) == 1 and len(gaps) == len(per_version):
            return Cell(GAP, next(iter(reasons)), per_version)
        text = "; ".join(f"{reason} (transformers {_versions(vcs)})" for reason, vcs in reasons.items())
        return Cell(GAP, text, per_version)
    if NOT_APPLICABLE in by_status:
        return Cell(NOT_APPLICABLE, by_status[NOT_APPLICABLE][0].reason, per_version)
    return Cell(PASSED, None, per_version)


def _versions(cells: Sequence[VersionCell]) -> str:
    return ", ".join(vc.version for vc in cells)


@dataclass(frozen=True)
class Row:
    """One architecture: its cells by feature name, and the transformers versions it was tested on."""

    arch: str
    modality: str
    versions: tuple[str, ...]
    cells: dict[str, Cell]

    @property
    def certified(self) -> tuple[str, ...]:
        """The versions of `versions` on which the row holds: something passed, nothing failed, and every feature
        that ran on another version ran here too."""
        covered = {
            name for name, cell in self.cells.items() if any(vc.status in (PASSED, FAILED) for vc in cell.per_version)
        }
        certified = []
        for version in self.versions:
            statuses = {name: cell.versions.get(version, NOT_RUN) for name, cell in self.cells.items()}
            if (
                PASSED in statuses.values()
                and FAILED not in statuses.values()
                and all(statuses[name] != NOT_RUN for name in covered)
            ):
                certified.append(version)
        return tuple(certified)


def version_ranges(tested: Sequence[str], certified: Sequence[str]) -> str:
    """`4.57.6 – 5.24.0` when every tested version is certified; runs of consecutive certified versions otherwise."""
    runs: list[list[str]] = []
    previous_certified = False
    for version in tested:
        if version in certified:
            if previous_certified:
                runs[-1].append(version)
            else:
                runs.append([version])
        previous_certified = version in certified
    if not runs:
        return "none"
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]} \N{EN DASH} {run[-1]}" for run in runs)


@dataclass(frozen=True)
class Table:
    """The support matrix: rows sorted by architecture, columns in FEATURES order."""

    impl: str
    versions: tuple[str, ...]
    features: tuple[Feature, ...]
    rows: tuple[Row, ...]
    unknown_features: tuple[str, ...]  # features that have checks but no column; the CLI warns about them


def build_table(results: Sequence[Results], features: Sequence[Feature] = FEATURES) -> Table:
    """Build the support matrix from result files (any mix of shards and transformers versions)."""
    if not results:
        raise ValueError("no results to build a table from")
    impl = implementation(results)
    merged = merge_by_version(results)
    names = sorted({name for vr in merged for name in vr.architectures})
    rows = tuple(_row(name, [vr for vr in merged if name in vr.architectures], features) for name in names)
    known = {f.name for f in features}
    unknown = tuple(sorted({c.feature for vr in merged for c in vr.checks} - known))
    return Table(impl, tuple(vr.transformers for vr in merged), tuple(features), rows, unknown)


def _row(name: str, present: list[VersionResults], features: Sequence[Feature]) -> Row:
    cells = {}
    for feature in features:
        per_version = []
        for vr in present:
            checks = [c for c in vr.checks if c.arch == name and c.feature == feature.name]
            per_version.append(version_cell(vr.transformers, checks, vr.architectures[name].gaps.get(feature.name)))
        cells[feature.name] = combine(per_version)
    # The newest version's spec describes the architecture today.
    modality = present[-1].architectures[name].modality
    return Row(name, modality, tuple(vr.transformers for vr in present), cells)
