"""AdapterHub's published support table against the measured one, cell by cell (`docs/adapters/claims.md`).

Each published cell is a claim (✅, or (*) for "if the encoder and decoder are supported") or no claim (blank). A
claim is *confirmed* when the measured cell passed, *contradicted* when it failed (with the failing checks and a
command that reproduces them), a *declared gap* when the suite skipped it for a stated reason, and *not measured* when
the architecture was not run under this implementation. A cell that passed without a claim is *supported but
unclaimed*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from architectures.features import FEATURES
from reports.cells import FAILED, GAP, NOT_APPLICABLE, PASSED, Table


PUBLISHED = "docs/adapters/published_model_overview.md"
MAX_CHECKS = 5  # failing checks listed per contradicted cell; the JSON table has them all

# Published row labels (link text, markup removed) -> the registered architectures they name. A label that is no
# transformers architecture (custom models through the plugin interface, one fine-tuned checkpoint) maps to none.
ROW_ARCHES: dict[str, tuple[str, ...]] = {
    "Custom models": (),
    "EAT": (),
    "ALBERT": ("albert",),
    "BART": ("bart",),
    "BEIT": ("beit",),
    "BERT-Generation": ("bert_generation",),
    "BERT": ("bert",),
    "CLIP": ("clip",),
    "DeBERTa": ("deberta",),
    "DeBERTa-v2": ("deberta_v2",),
    "DistilBERT": ("distilbert",),
    "Electra": ("electra",),
    "Encoder Decoder": ("encoder_decoder",),
    "Gemma 2": ("gemma2",),
    "Gemma 3 (Text)": ("gemma3_text",),
    "GPT-2": ("gpt2",),
    "GPT-J": ("gptj",),
    "Llama Llama 2 Llama 3": ("llama",),
    "MBart": ("mbart",),
    "ModernBERT": ("modernbert",),
    "Mistral": ("mistral",),
    "MT5": ("mt5",),
    "Phi-1 Phi-2": ("phi",),
    "PLBart": ("plbart",),
    "Qwen2 Qwen2.5 Qwen3": ("qwen2", "qwen3"),
    "RoBERTa": ("roberta",),
    "T5": ("t5",),
    "ViT": ("vit",),
    "Whisper": ("whisper",),
    "XLM-RoBERTa": ("xlm_roberta",),
    "X-MOD": ("xmod",),
}

CONFIRMED, CONTRADICTED, DECLARED_GAP, NOT_MEASURED, UNCLAIMED = (
    "confirmed",
    "contradicted",
    "declared gap",
    "not measured",
    "supported but unclaimed",
)
MARKS = {CONFIRMED: "✅", CONTRADICTED: "❌", DECLARED_GAP: "gap", NOT_MEASURED: "·", UNCLAIMED: "➕"}


@dataclass(frozen=True)
class Claim:
    arch: str
    feature: str
    claimed: bool


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str | None  # None: no claim and nothing measured that passed: nothing to say
    detail: str  # the gap reason, or the failing checks


def _label(cell: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", cell)  # [BERT](classes/...) -> BERT
    text = re.sub(r"<sup>.*?</sup>", "", text)
    text = text.replace("<br>", " ")
    return " ".join(text.split())


def parse_published(text: str, feature_titles: dict[str, str]) -> tuple[list[str], list[Claim]]:
    """(the features the table has columns for, every claim) from the published markdown. ``feature_titles`` maps
    our column titles (normalised) to feature names; a published column without one is an error."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ValueError("the published table has no rows")
    split = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    header, body = split[0], split[2:]
    features = []
    for title in header[1:]:
        name = feature_titles.get(_label(title))
        if name is None:
            raise ValueError(f"published column {title!r} has no column of ours; known: {sorted(feature_titles)}")
        features.append(name)
    claims = []
    for cells in body:
        label = _label(cells[0])
        if label not in ROW_ARCHES:
            raise ValueError(f"published row {label!r} is not mapped to an architecture: add it to ROW_ARCHES")
        for arch in ROW_ARCHES[label]:
            for name, value in zip(features, cells[1:], strict=False):
                claims.append(Claim(arch, name, value in ("✅", "(*)")))
    return features, claims


def judge(table: Table, claims: Sequence[Claim], impl: str) -> list[Verdict]:
    rows = {row.arch: row for row in table.rows}
    verdicts = []
    for claim in claims:
        row = rows.get(claim.arch)
        cell = row.cells.get(claim.feature) if row else None
        if cell is None or cell.status not in (PASSED, FAILED, GAP, NOT_APPLICABLE):
            verdicts.append(Verdict(claim, NOT_MEASURED if claim.claimed else None, ""))
        elif cell.status == PASSED:
            verdicts.append(Verdict(claim, CONFIRMED if claim.claimed else UNCLAIMED, ""))
        elif cell.status == FAILED:
            failing = sorted({check.nodeid for _, check in cell.failing})
            detail = ", ".join(f"`{_short(n)}`" for n in failing[:MAX_CHECKS])
            if len(failing) > MAX_CHECKS:
                detail += f" and {len(failing) - MAX_CHECKS} more"
            if failing:
                detail += f"; reproduce: `pytest --impl={impl} --arch={claim.arch} '{failing[0]}'`"
            verdicts.append(Verdict(claim, CONTRADICTED if claim.claimed else None, detail))
        else:
            verdicts.append(Verdict(claim, DECLARED_GAP if claim.claimed else None, cell.reason or ""))
    return verdicts


def _short(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1]


def render_claims(table: Table, published_text: str, source: str = PUBLISHED) -> str:
    titles = {_label(f.title): f.name for f in FEATURES}
    features, claims = parse_published(published_text, titles)
    column_titles = {f.name: f.title for f in FEATURES}
    verdicts = judge(table, claims, table.impl)
    counts = {v: sum(x.verdict == v for x in verdicts) for v in MARKS}
    versions = ", ".join(table.versions) or "none"
    lines = [
        f"# AdapterHub's published table, measured (`--impl={table.impl}`)",
        "",
        f"Generated by `python -m reports render` from the suite's results (transformers {versions}) and the "
        f"published table in `{source}`; regenerate it, don't edit it.",
        "",
        f"- {MARKS[CONFIRMED]} confirmed: {counts[CONFIRMED]} claims the checks passed",
        f"- {MARKS[CONTRADICTED]} contradicted: {counts[CONTRADICTED]} claims a check failed (listed below, with a "
        "command that reproduces the first)",
        f"- {MARKS[DECLARED_GAP]}: {counts[DECLARED_GAP]} claims the suite skipped for a declared reason "
        "(an implementation or architecture gap; see the table's footnotes)",
        f"- {MARKS[NOT_MEASURED]} not measured: {counts[NOT_MEASURED]} claims on architectures not run under this "
        "implementation (not registered yet, or not in the run)",
        f"- {MARKS[UNCLAIMED]} supported but unclaimed: {counts[UNCLAIMED]} cells that passed without a claim",
        "",
        "| Architecture | " + " | ".join(column_titles[f] for f in features) + " |",
        "| --- | " + " | ".join("---" for _ in features) + " |",
    ]
    by_arch: dict[str, dict[str, Verdict]] = {}
    for verdict in verdicts:
        by_arch.setdefault(verdict.claim.arch, {})[verdict.claim.feature] = verdict
    for arch, cells in by_arch.items():
        marks = [MARKS.get(cells[f].verdict, "") if f in cells else "" for f in features]
        lines.append(f"| {arch} | " + " | ".join(marks) + " |")
    contradicted = [v for v in verdicts if v.verdict == CONTRADICTED]
    lines += ["", "## Contradicted claims", ""]
    lines += [f"- **{v.claim.arch} / {v.claim.feature}**: {v.detail}" for v in contradicted] or ["None."]
    gaps = [v for v in verdicts if v.verdict == DECLARED_GAP]
    lines += ["", "## Claims skipped for a declared reason", ""]
    lines += [f"- **{v.claim.arch} / {v.claim.feature}**: {v.detail}" for v in gaps] or ["None."]
    return "\n".join(lines) + "\n"


def claims_path(table_out: str | Path) -> Path:
    return Path(table_out).parent / "claims.md"
