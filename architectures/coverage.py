"""The coverage view: every model type the installed transformers knows that has attention layers, and for each
whether it is registered here, scaffoldable (the scaffolder found every layout field), or not, and why."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path


REGISTERED, SCAFFOLDABLE, NOT_SCAFFOLDABLE, NO_ATTENTION = "registered", "scaffoldable", "not scaffoldable", "none"


@dataclass(frozen=True)
class Entry:
    model_type: str
    status: str  # one of the constants above
    detail: str  # what is missing, or why the model type has no attention layers to adapt


def model_types() -> list[str]:
    from transformers import CONFIG_MAPPING

    return sorted(CONFIG_MAPPING.keys())


def certified_ranges() -> dict[str, str]:
    """Each registered architecture's certified range, from the committed table of a checkout (empty elsewhere)."""
    table = Path(__file__).resolve().parents[1] / "docs" / "model_overview.json"
    if not table.is_file():
        return {}
    rows = json.loads(table.read_text())["architectures"]
    return {row["name"]: row.get("certified_range") or "no version certified" for row in rows}


def classify(model_type: str, registered: set[str], ranges: dict[str, str] | None = None) -> Entry:
    from .scaffold import draft

    name = model_type.replace("-", "_")  # spec modules are named after the model_type, dashes as underscores
    if name in registered:
        certified = (ranges or {}).get(name)
        return Entry(model_type, REGISTERED, f"certified: {certified}" if certified else "")
    try:
        with _quiet():
            result = draft(model_type)
    except Exception as err:  # noqa: BLE001 - every failure is a line of the report, with its reason
        message = f"{type(err).__name__}: {err}".splitlines()[0][:160]
        no_attention = "no list of identical layers" in message or "no base model class" in message
        return Entry(model_type, NO_ATTENTION if no_attention else NOT_SCAFFOLDABLE, message)
    if result.complete:
        return Entry(model_type, SCAFFOLDABLE, "")
    missing = [m for m in result.undecided() if not m.startswith("heads[")]
    return Entry(model_type, NOT_SCAFFOLDABLE, "undecided: " + ", ".join(missing))


@contextlib.contextmanager
def _quiet():
    logging.disable(logging.ERROR)  # transformers logs config errors of exotic model types at ERROR
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def coverage(types: list[str] | None = None) -> list[Entry]:
    from .registry import builtin_names

    registered, ranges = set(builtin_names()), certified_ranges()
    return [classify(t, registered, ranges) for t in (types or model_types())]


def render(entries: list[Entry]) -> list[str]:
    from .versions import installed

    counts = {s: sum(e.status == s for e in entries) for s in (REGISTERED, SCAFFOLDABLE, NOT_SCAFFOLDABLE)}
    skipped = sum(e.status == NO_ATTENTION for e in entries)
    lines = [
        f"transformers {installed('transformers')}: {len(entries) - skipped} model types with attention layers "
        f"({skipped} others have no layer stack with attention projections the scaffolder recognises, or no base "
        "model class)",
        f"registered: {counts[REGISTERED]}, scaffoldable: {counts[SCAFFOLDABLE]}, "
        f"not scaffoldable: {counts[NOT_SCAFFOLDABLE]}",
        "",
    ]
    for entry in entries:
        if entry.status != NO_ATTENTION:
            lines.append(f"{entry.model_type:32} {entry.status:17} {entry.detail}".rstrip())
    lines += ["", "no attention layers found / no base model:"]
    lines += [f"{e.model_type:32} {e.detail}" for e in entries if e.status == NO_ATTENTION]
    return lines
