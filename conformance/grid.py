"""The terminal grid: architecture × feature, with how many checks passed behind each cell.

Cells are padded by their width on the terminal (✅ and ❌ take two columns), and a grid wider than the terminal is
cut into groups of feature columns, each printed as its own block with the architecture column repeated.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from reports.cells import FAILED, GAP, NOT_APPLICABLE, NOT_RUN, PASSED, build_table
from reports.results import Architecture, Check, Results


SYMBOL = {PASSED: "✅", FAILED: "❌", GAP: "gap", NOT_RUN: "–", NOT_APPLICABLE: "n/a"}
DEFAULT_WIDTH = 100
GUTTER = "  "


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide and full-width characters two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def render_grid(payload: dict[str, Any], width: int = DEFAULT_WIDTH) -> list[str]:
    results = Results(
        path="this run",
        environment=payload["environment"],
        selection=payload["selection"],
        architectures={name: Architecture(**arch) for name, arch in payload["architectures"].items()},
        checks=tuple(Check(**check) for check in payload["checks"]),
    )
    table = build_table([results])
    features = [f.name for f in table.features if any(c["feature"] == f.name for c in payload["checks"])]
    cells: dict[str, dict[str, str]] = {}
    notes = []
    for row in table.rows:
        cells[row.arch] = {}
        for feature in features:
            cell = row.cells[feature]
            counts = cell.counts
            ran = sum(counts.values()) - counts["gap"] - counts["n/a"]
            text = SYMBOL[cell.status]
            if cell.status in (PASSED, FAILED):
                text += f" {counts['passed']}/{ran}"
            if cell.status == GAP:
                notes.append(f"{row.arch} {feature}: declared gap: {cell.reason}")
            if cell.status == NOT_APPLICABLE:
                notes.append(f"{row.arch} {feature}: not applicable: {cell.reason}")
            for _, check in cell.failing:
                notes.append(f"{row.arch} {feature}: {check.outcome} {check.nodeid}: {check.reason}")
            cells[row.arch][feature] = text
    lines: list[str] = []
    for group in _column_groups(["architecture", *cells], features, cells, width):
        if lines:
            lines.append("")
        lines += _block(group, cells)
    return lines + notes


def _column_width(feature: str, cells: dict[str, dict[str, str]]) -> int:
    return max([display_width(feature), *(display_width(row[feature]) for row in cells.values())])


def _column_groups(
    first: list[str], features: list[str], cells: dict[str, dict[str, str]], width: int
) -> list[list[str]]:
    """Feature columns in groups that fit ``width`` next to the architecture column (at least one per group)."""
    used = max(display_width(name) for name in first)
    groups: list[list[str]] = [[]]
    taken = used
    for feature in features:
        needed = len(GUTTER) + _column_width(feature, cells)
        if groups[-1] and taken + needed > width:
            groups.append([])
            taken = used
        groups[-1].append(feature)
        taken += needed
    return groups


def _block(features: list[str], cells: dict[str, dict[str, str]]) -> list[str]:
    rows = [["architecture", *features]] + [[arch, *(cells[arch][f] for f in features)] for arch in cells]
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [GUTTER.join(pad(cell, w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
