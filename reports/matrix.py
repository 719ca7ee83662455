"""The nightly matrix: architecture × feature × transformers version, with the checks behind every cell.

`build_matrix` turns result files into a JSON-ready dict (the file the next night compares against);
`render_matrix_markdown` writes the same view for people; `load_matrix` reads a previous matrix back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from architectures.features import FEATURES, Feature
from reports.cells import FAILED, GAP, NOT_APPLICABLE, NOT_RUN, PASSED, STATUSES, version_cell
from reports.merge import implementation, merge_by_version
from reports.results import OUTCOMES, UNCOUNTED, Check, Results, short_id


MATRIX_SCHEMA = 1
GENERATED_BY = "python -m reports matrix"
STAMP_KEYS = ("python", "torch", "adapter_conformance", "commit", "date")
MARK = {PASSED: "✅", FAILED: "❌", GAP: "gap", NOT_RUN: "\N{EN DASH}", NOT_APPLICABLE: "n/a"}
MAX_LISTED_CHECKS = 10


def build_matrix(results: Sequence[Results], features: Sequence[Feature] = FEATURES) -> dict[str, Any]:
    """Every (architecture, feature, version) cell with its status, reason, counts and checks."""
    if not results:
        raise ValueError("no results to build a matrix from")
    impl = implementation(results)
    merged = merge_by_version(results)
    by_cell: dict[tuple[str, str, str], list[Check]] = {}
    for vr in merged:
        for c in vr.checks:
            by_cell.setdefault((vr.transformers, c.arch, c.feature), []).append(c)
    names = sorted({name for vr in merged for name in vr.architectures})
    architectures = []
    for name in names:
        present = [vr for vr in merged if name in vr.architectures]
        cells: dict[str, dict[str, Any]] = {}
        for feature in features:
            cells[feature.name] = {}
            for vr in present:
                checks = by_cell.get((vr.transformers, name, feature.name), [])
                vc = version_cell(vr.transformers, checks, vr.architectures[name].gaps.get(feature.name))
                cells[feature.name][vr.transformers] = {
                    "status": vc.status,
                    "reason": vc.reason,
                    "counts": _counts(vc.checks),
                    "checks": [_check_dict(c) for c in vc.checks],
                }
        architectures.append(
            {
                "name": name,
                "modality": present[-1].architectures[name].modality,
                "transformers_versions": [vr.transformers for vr in present],
                "gaps": dict(sorted(present[-1].architectures[name].gaps.items())),
                "cells": cells,
            }
        )
    known = {f.name for f in features}
    return {
        "schema": MATRIX_SCHEMA,
        "generated_by": GENERATED_BY,
        "impl": impl,
        "transformers_versions": [vr.transformers for vr in merged],
        "runs": {version: _stamps(results, version) for version in (vr.transformers for vr in merged)},
        "features": [{"name": f.name, "title": f.title, "anchor": f.anchor} for f in features],
        "unknown_features": sorted({c.feature for vr in merged for c in vr.checks} - known),
        "architectures": architectures,
    }


def render_matrix_json(matrix: dict[str, Any]) -> str:
    return json.dumps(matrix, indent=1, ensure_ascii=False) + "\n"


def load_matrix(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a matrix written by `python -m reports matrix`; anything else raises ValueError naming the problem."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not a matrix: not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("generated_by") != GENERATED_BY:
        raise ValueError(f"{path} is not a matrix written by `{GENERATED_BY}`")
    if data.get("schema") != MATRIX_SCHEMA:
        raise ValueError(
            f"{path}: unsupported matrix schema {data.get('schema')!r}; this version reads {MATRIX_SCHEMA}"
        )
    try:
        _validate(data)
    except ValueError as e:
        raise ValueError(f"{path}: malformed matrix: {e}") from None
    return data


def _validate(data: dict[str, Any]) -> None:
    for key in ("transformers_versions", "features", "architectures"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"field {key!r}: expected a list")
    for i, arch in enumerate(data["architectures"]):
        if (
            not isinstance(arch, dict)
            or not isinstance(arch.get("name"), str)
            or not isinstance(arch.get("cells"), dict)
        ):
            raise ValueError(f"architectures[{i}]: expected an object with 'name' and 'cells'")
        for feature, per_version in arch["cells"].items():
            if not isinstance(per_version, dict):
                raise ValueError(f"architectures[{i}] ({arch['name']}).cells.{feature}: expected an object")
            for version, cell in per_version.items():
                status = cell.get("status") if isinstance(cell, dict) else None
                if status not in STATUSES:
                    raise ValueError(
                        f"architectures[{i}] ({arch['name']}).cells.{feature}.{version}: status {status!r} is not "
                        f"one of {', '.join(STATUSES)}"
                    )


def cell_statuses(arch: dict[str, Any], feature: str, versions: Sequence[str]) -> list[str]:
    """The status of one cell on each of `versions` (NOT_RUN where the architecture was not tested)."""
    per_version = arch["cells"].get(feature, {})
    return [per_version[v]["status"] if v in per_version else NOT_RUN for v in versions]


def differing_cells(matrix: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(architecture, feature, statuses per version) for every cell whose status is not the same on all versions."""
    versions = matrix["transformers_versions"]
    found = []
    for arch in matrix["architectures"]:
        for feature in (f["name"] for f in matrix["features"]):
            statuses = cell_statuses(arch, feature, versions)
            if len(set(statuses)) > 1:
                found.append((arch["name"], feature, statuses))
    return found


def render_matrix_markdown(matrix: dict[str, Any]) -> str:
    """The matrix for people: one table, a mark per cell (one per version where versions disagree), then what
    differs between versions, what fails and the declared gaps. Deterministic: no dates, durations or paths."""
    versions = matrix["transformers_versions"]
    features = [f["name"] for f in matrix["features"]]
    order = " · ".join(versions)
    lines = [
        "# Support matrix: architecture × feature × transformers version",
        "",
        f"Generated by `{GENERATED_BY}` from the nightly result files: do not edit it by hand.",
        f"Implementation under test: `{matrix['impl']}`. Transformers versions: {', '.join(versions)}.",
        "",
        f"A cell shows one mark when every version agrees, else one mark per version in the order {order}: "
        f"✅ passed, ❌ failed, gap: declared gap, {MARK[NOT_RUN]} not run, n/a: no check applies.",
        "",
        "| Model | " + " | ".join(features) + " |",
        "| --- |" + " --- |" * len(features),
    ]
    for arch in matrix["architectures"]:
        marks = []
        for feature in features:
            statuses = cell_statuses(arch, feature, versions)
            marks.append(MARK[statuses[0]] if len(set(statuses)) == 1 else " ".join(MARK[s] for s in statuses))
        lines.append(f"| {arch['name']} | " + " | ".join(marks) + " |")

    differing = differing_cells(matrix)
    lines += ["", "## Cells that differ between versions", ""]
    if differing:
        lines += ["| Model | Feature | " + " | ".join(versions) + " |", "| --- | --- |" + " --- |" * len(versions)]
        lines += [f"| {a} | {f} | " + " | ".join(MARK[s] for s in st) + " |" for a, f, st in differing]
    else:
        lines.append("None: every cell has the same status on every version.")

    lines += ["", "## Not passing", ""]
    failing = _failing_lines(matrix)
    lines += failing or ["Nothing: every check that ran passed."]

    lines += ["", "## Declared gaps", ""]
    gaps = [
        f"- {a['name']} × {feature}: {reason}"
        for a in matrix["architectures"]
        for feature, reason in a["gaps"].items()
    ]
    lines += gaps or ["None."]
    if matrix["unknown_features"]:
        lines += ["", f"Checks of features without a column (left out): {', '.join(matrix['unknown_features'])}."]
    return "\n".join(lines) + "\n"


def _failing_lines(matrix: dict[str, Any]) -> list[str]:
    lines = []
    for arch in matrix["architectures"]:
        for feature, per_version in arch["cells"].items():
            for version, cell in per_version.items():
                if cell["status"] != FAILED:
                    continue
                bad = [c for c in cell["checks"] if c["outcome"] != "passed" and c["outcome"] not in UNCOUNTED]
                lines.append(f"- **{arch['name']} × {feature}** on transformers {version}: {len(bad)} not passing")
                for c in bad[:MAX_LISTED_CHECKS]:
                    reason = " ".join(c["reason"].split())
                    lines.append(f"  - `{short_id(c['nodeid'])}` ({c['outcome']}{': ' + reason if reason else ''})")
                if len(bad) > MAX_LISTED_CHECKS:
                    lines.append(f"  - and {len(bad) - MAX_LISTED_CHECKS} more, listed in matrix.json")
    return lines


def _counts(checks: Sequence[Check]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for c in checks:
        counts[c.outcome] += 1
    return counts


def _check_dict(c: Check) -> dict[str, Any]:
    return {"check": c.check, "method": c.method, "nodeid": c.nodeid, "outcome": c.outcome, "reason": c.reason}


def _stamps(results: Sequence[Results], version: str) -> dict[str, Any]:
    """Where the results of one version came from (the newest file's environment): for people, not for diffs."""
    files = [r for r in results if r.transformers == version]
    newest = max(files, key=lambda r: (str(r.environment.get("date") or ""), r.path))
    return {key: newest.environment.get(key) for key in STAMP_KEYS}
