"""The terminal grid: architecture × feature, with how many checks passed behind each cell."""

from __future__ import annotations

from typing import Any

from reports.cells import FAILED, GAP, NOT_APPLICABLE, NOT_RUN, PASSED, build_table
from reports.results import Architecture, Check, Results


SYMBOL = {PASSED: "✅", FAILED: "❌", GAP: "gap", NOT_RUN: "–", NOT_APPLICABLE: "n/a"}


def render_grid(payload: dict[str, Any]) -> list[str]:
    results = Results(
        path="this run",
        environment=payload["environment"],
        selection=payload["selection"],
        architectures={name: Architecture(**arch) for name, arch in payload["architectures"].items()},
        checks=tuple(Check(**check) for check in payload["checks"]),
    )
    table = build_table([results])
    features = [f for f in table.features if any(c["feature"] == f.name for c in payload["checks"])]
    header = ["architecture", *(f.name for f in features)]
    rows = []
    notes = []
    for row in table.rows:
        line = [row.arch]
        for feature in features:
            cell = row.cells[feature.name]
            counts = cell.counts
            ran = sum(counts.values()) - counts["gap"] - counts["n/a"]
            text = SYMBOL[cell.status]
            if cell.status in (PASSED, FAILED):
                text += f" {counts['passed']}/{ran}"
            if cell.status == GAP:
                notes.append(f"{row.arch} {feature.name}: declared gap: {cell.reason}")
            if cell.status == NOT_APPLICABLE:
                notes.append(f"{row.arch} {feature.name}: not applicable: {cell.reason}")
            for _, check in cell.failing:
                notes.append(f"{row.arch} {feature.name}: {check.outcome} {check.nodeid}: {check.reason}")
            line.append(text)
        rows.append(line)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)) for r in [header, *rows]]
    return lines + notes
