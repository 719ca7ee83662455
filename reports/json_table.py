"""The model table as JSON: the same cells as the markdown, with counts and every failing check."""

from __future__ import annotations

import json
from typing import Any

from reports.cells import Cell, Table, version_ranges
from reports.head_classes import head_classes


TABLE_SCHEMA = 1


def table_dict(table: Table) -> dict[str, Any]:
    """A JSON-ready dict of the table. Deterministic: no dates, durations or paths."""
    return {
        "schema": TABLE_SCHEMA,
        "generated_by": "python -m reports render",
        "impl": table.impl,
        "transformers_versions": list(table.versions),
        "features": [{"name": f.name, "title": f.title} for f in table.features],
        "architectures": [
            {
                "name": row.arch,
                "modality": row.modality,
                "transformers_versions": list(row.versions),
                "certified_versions": list(row.certified),
                "certified_range": version_ranges(row.versions, row.certified),
                "cells": {name: _cell_dict(cell) for name, cell in row.cells.items()},
                "head_classes": head_classes(row),  # static head classes the class-conversion checks cover
            }
            for row in table.rows
        ],
    }


def render_json(table: Table) -> str:
    return json.dumps(table_dict(table), indent=2, ensure_ascii=False) + "\n"


def _cell_dict(cell: Cell) -> dict[str, Any]:
    return {
        "status": cell.status,
        "reason": cell.reason,
        "counts": cell.counts,
        "versions": cell.versions,
        "failing": [
            {"transformers": version, "nodeid": c.nodeid, "outcome": c.outcome, "reason": c.reason}
            for version, c in cell.failing
        ],
    }
