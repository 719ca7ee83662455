"""Static head classes per architecture, read off the class-conversion checks (one check id per class:
``test_static_to_flex_to_static[bert-BertForSequenceClassification]``). No torch, no transformers."""

from __future__ import annotations

from typing import Any

from reports.cells import Row


FEATURE = "class_conversion"


def class_of(nodeid: str, arch: str) -> str | None:
    """``BertForSequenceClassification`` for a check id ending in ``[bert-BertForSequenceClassification]``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    param = nodeid[nodeid.rindex("[") + 1 : -1]
    prefix = f"{arch}-"
    return param[len(prefix) :] if param.startswith(prefix) and len(param) > len(prefix) else None


def head_classes(row: Row) -> dict[str, Any]:
    """Each class's status over every version: ``covered`` when all its checks passed everywhere, ``gap`` when all
    were declared gaps, ``failed`` otherwise; and the counts."""
    cell = row.cells.get(FEATURE)
    outcomes: dict[str, set[str]] = {}
    reasons: dict[str, str] = {}
    for version_cell in cell.per_version if cell is not None else ():
        for check in version_cell.checks:
            name = class_of(check.nodeid, row.arch)
            if name is not None and check.outcome != "n/a":  # a check that does not apply says nothing of the class
                outcomes.setdefault(name, set()).add(check.outcome)
                if check.outcome == "gap":
                    reasons[name] = check.reason
    status = {}
    for name, seen in sorted(outcomes.items()):
        status[name] = "covered" if seen == {"passed"} else "gap" if seen == {"gap"} else "failed"
    counts = {kind: sum(1 for s in status.values() if s == kind) for kind in ("covered", "gap", "failed")}
    gaps = {name: reasons[name] for name, s in status.items() if s == "gap"}
    return {**counts, "classes": status, "gap_reasons": gaps}
