"""Training-parity reports (``adapter-conformance train-parity``) as tables, read from their JSON; no torch.

The certificates, the per-architecture pages and the train-parity command itself render the same table from it.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any


FULL = "full fine-tuning"
TASKS = {
    "vision": "classify in which half of the image a bright square was planted",
    "text": "classify whether a planted token occurs in a sequence of random tokens",
}


def parity_paths(folder: str | Path, arch: str) -> dict[str, Path]:
    """The files train-parity writes for one architecture into one folder."""
    folder = Path(folder)
    return {kind: folder / f"{arch}.parity.{kind}" for kind in ("md", "json", "png")}


def load_parity(folder: str | Path, arch: str) -> dict[str, Any] | None:
    """The parity report of ``arch`` in ``folder``, or None when there is none (or it is not readable)."""
    path = parity_paths(folder, arch)["json"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("arch") != arch or not isinstance(data.get("runs"), list):
        return None
    return data


def task_of(data: Mapping[str, Any]) -> str:
    return TASKS["vision" if data.get("modality") == "vision" else "text"]


def describe(data: Mapping[str, Any]) -> str:
    """One sentence: what was trained how, on what."""
    steps = data.get("steps")
    versions = data.get("versions") or {}
    on = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    return (
        f"Task: {task_of(data)}. Implementation `{data.get('impl', 'unknown')}`"
        + (f", {steps} steps of batch {data.get('batch', '?')}" if steps else "")
        + " for every run (same batches and seed), accuracy on 256 held-out examples"
        + (f"; {on}" if on else "")
        + (f"; {data['date']}" if data.get("date") else "")
        + "."
    )


def render_parity_table(data: Mapping[str, Any]) -> str:
    """The markdown table: per run, accuracy (also relative to full fine-tuning), trainable share, step time
    relative to full fine-tuning's and the mean loss of the last 10 steps."""
    runs = data["runs"]
    full = next((r for r in runs if r["method"] == FULL and not r.get("error")), None)
    lines = [
        "| method | accuracy | vs full FT | trainable | step time vs full FT | final loss |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        if run.get("error"):
            error = " ".join(str(run["error"]).split())[:100].replace("|", "\\|")
            lines.append(f"| {run['method']} | error: {error} | | | | |")
            continue
        accuracy = run["accuracy"]
        relative = accuracy / full["accuracy"] if full and full["accuracy"] else math.nan
        speed = run["step_seconds"] / full["step_seconds"] if full and full["step_seconds"] else math.nan
        tail = statistics.mean(run["losses"][-10:]) if run.get("losses") else math.nan
        lines.append(
            f"| {run['method']} | {accuracy:.3f} | {relative:.2f} | {run['trainable_share'] * 100:.2f}% | "
            f"{speed:.2f}x | {tail:.3f} |"
        )
    return "\n".join(lines) + "\n"


def summary(data: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers a report quotes: full fine-tuning's accuracy, the methods within 95 % of it, the errors."""
    runs = data["runs"]
    full = next((r for r in runs if r["method"] == FULL and not r.get("error")), None)
    adapters = [r for r in runs if r["method"] != FULL]
    ok = [r for r in adapters if not r.get("error")]
    close = [r["method"] for r in ok if full and full["accuracy"] and r["accuracy"] >= 0.95 * full["accuracy"]]
    return {
        "full_accuracy": full["accuracy"] if full else None,
        "methods": len(adapters),
        "within_95": close,
        "errors": [r["method"] for r in adapters if r.get("error")],
    }
