"""Certificates: what one run proved about one architecture, as JSON and markdown.

An architecture is certified when at least one check ran and every check that is not a declared gap passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from architectures.features import FEATURES, Feature
from reports.cells import FAILED, GAP, NOT_APPLICABLE, NOT_RUN, PASSED, version_cell
from reports.parity import describe, load_parity, parity_paths, render_parity_table
from reports.results import OUTCOMES, UNCOUNTED, Check, Results


CERTIFICATE_SCHEMA = 1
GENERATED_BY = "adapter-conformance certify"
MARK = {PASSED: "✅", FAILED: "❌", GAP: "gap", NOT_RUN: "\N{EN DASH}", NOT_APPLICABLE: "n/a"}


def build_certificate(results: Results, arch: str, features: Sequence[Feature] = FEATURES) -> dict[str, Any]:
    """The certificate of `arch` from one run's results."""
    if arch not in results.architectures:
        known = ", ".join(sorted(results.architectures)) or "none"
        raise ValueError(f"{results.path} has no results for architecture {arch!r}; it has: {known}")
    spec = results.architectures[arch]
    checks = [c for c in results.checks if c.arch == arch]
    per_feature = {}
    for feature in features:
        mine = [c for c in checks if c.feature == feature.name]
        vc = version_cell(results.transformers, mine, spec.gaps.get(feature.name))
        if vc.status == NOT_RUN:
            continue  # not selected in this run and not declared: nothing to certify
        per_feature[feature.name] = {
            "title": feature.title.replace("<br>", ""),
            "status": vc.status,
            "reason": vc.reason,
            "passed": sum(c.outcome == "passed" for c in mine),
            "ran": sum(c.outcome not in UNCOUNTED for c in mine),
            "gap": sum(c.outcome == "gap" for c in mine),
        }
    known = {f.name for f in features}
    failing = [
        {"feature": c.feature, "method": c.method, "nodeid": c.nodeid, "outcome": c.outcome, "reason": c.reason}
        for c in checks
        if c.outcome != "passed" and c.outcome not in UNCOUNTED
    ]
    totals = dict.fromkeys(OUTCOMES, 0)
    for c in checks:
        totals[c.outcome] += 1
    ran = sum(totals.values()) - totals["gap"] - totals["n/a"]
    environment = results.environment
    return {
        "schema": CERTIFICATE_SCHEMA,
        "generated_by": GENERATED_BY,
        "architecture": arch,
        "modality": spec.modality,
        "certified": ran > 0 and not failing,
        "versions": {key: environment.get(key) for key in ("transformers", "torch", "python", "adapter_conformance")},
        "impl": results.impl,
        "commit": environment.get("commit"),
        "dirty": environment.get("dirty"),
        "date": environment.get("date"),
        "spec": dict(spec.provenance),
        "selection": {"methods": list(results.selection.get("methods", []))},
        "features": per_feature,
        "declared_gaps": _declared_gaps(spec.gaps, checks),
        "failing_checks": failing,
        "passed_checks": sorted(c.nodeid for c in checks if c.outcome == "passed"),
        "unknown_features": sorted({c.feature for c in checks} - known),
        "totals": {**totals, "ran": ran},
    }


def _declared_gaps(spec_gaps: Mapping[str, str], checks: Sequence[Check]) -> list[dict[str, Any]]:
    """Every declared gap with its reason: those of the spec, and those the skipped checks carry (a gap can also be
    declared for a single head class); with how many checks each one skipped."""
    skipped: dict[tuple[str, str], int] = {}
    for c in checks:
        if c.outcome == "gap":
            skipped[(c.feature, c.reason)] = skipped.get((c.feature, c.reason), 0) + 1
    for feature, reason in spec_gaps.items():
        skipped.setdefault((feature, reason), 0)
    return [
        {"feature": feature, "reason": reason, "skipped_checks": count}
        for (feature, reason), count in sorted(skipped.items())
    ]


def attach_parity(certificate: dict[str, Any], folder: str | Path) -> bool:
    """Add the training-parity report of the certificate's architecture found in ``folder`` (``adapter-conformance
    train-parity --out`` the same folder); False when there is none. A benchmark beside the verdict, never part of
    it: its runs keep the last 10 losses (the table's final loss), the curves stay in the PNG."""
    arch = certificate["architecture"]
    data = load_parity(folder, arch)
    if data is None:
        return False
    paths = parity_paths(folder, arch)
    runs = [{**run, "losses": list(run.get("losses") or [])[-10:]} for run in data["runs"]]
    certificate["training_parity"] = {
        **{k: data.get(k) for k in ("modality", "impl", "steps", "batch", "versions", "date")},
        "report": paths["md"].name,
        "plot": paths["png"].name if paths["png"].exists() else None,
        "runs": runs,
    }
    return True


def render_certificate_json(certificate: dict[str, Any]) -> str:
    return json.dumps(certificate, indent=2, ensure_ascii=False) + "\n"


def render_certificate_markdown(certificate: dict[str, Any]) -> str:
    """The certificate for people: the verdict, what it was run with and on, per feature, every check by id."""
    c = certificate
    v = c["versions"]
    totals = c["totals"]
    verdict = "CERTIFIED" if c["certified"] else "NOT CERTIFIED"
    summary = f"**{verdict}**: {totals['passed']} of {totals['ran']} checks passed"
    if c["failing_checks"]:
        summary += f", {len(c['failing_checks'])} not passing"
    if totals["gap"]:
        summary += f", {totals['gap']} skipped as declared gaps"
    if totals.get("n/a"):
        summary += f", {totals['n/a']} not applicable"
    lines = [
        f"# Adapter conformance certificate: {c['architecture']}",
        "",
        summary + ".",
        "",
        f"- architecture: `{c['architecture']}` ({c['modality']})",
        f"- implementation under test: `{c['impl']}`",
        f"- transformers {v['transformers']}, torch {v['torch']}, python {v['python']}, "
        f"adapter-conformance {v['adapter_conformance']}",
        f"- date: {c.get('date') or 'unknown'}",
        f"- commit: {c['commit'] or 'unknown'}{_tree(c.get('dirty'))}",
        *_spec_lines(c.get("spec") or {}),
        f"- methods checked: {', '.join(c['selection']['methods']) or 'none'}",
        "",
        "| Feature | Status | Checks passed |",
        "| --- | --- | --- |",
    ]
    for name, f in c["features"].items():
        counts = f"{f['passed']}/{f['ran']}" if f["status"] not in (GAP, NOT_APPLICABLE) else ""
        counts += f" (+{f['gap']} declared gap)" if f["gap"] and f["status"] != GAP else ""
        reason = f" ({f['reason']})" if f["status"] in (GAP, NOT_APPLICABLE) and f["reason"] else ""
        lines.append(f"| {name} | {MARK[f['status']]}{reason} | {counts} |")
    lines += ["", "## Failing checks", ""]
    if c["failing_checks"]:
        for check in c["failing_checks"]:
            reason = " ".join(check["reason"].split())
            lines.append(f"- `{check['nodeid']}`: {check['outcome']}{': ' + reason if reason else ''}")
    else:
        lines.append("None." if totals["ran"] else "No check ran: nothing is certified.")
    lines += ["", "## Declared gaps", ""]
    lines += [
        f"- {gap['feature']}: {gap['reason']}" + _skipped(gap["skipped_checks"]) for gap in c["declared_gaps"]
    ] or ["None."]
    passed = c.get("passed_checks") or []
    lines += ["", "## Passed checks", ""]
    if passed:
        lines += [f"<details><summary>{len(passed)} checks passed</summary>", ""]
        lines += [f"- `{nodeid}`" for nodeid in passed]
        lines += ["", "</details>"]
    else:
        lines.append("None.")
    if c["unknown_features"]:
        lines += ["", f"Checks of features without a matrix column: {', '.join(c['unknown_features'])}."]
    lines += _parity_lines(c.get("training_parity"), c["architecture"])
    return "\n".join(lines) + "\n"


def _parity_lines(parity: Mapping[str, Any] | None, arch: str) -> list[str]:
    if not parity:
        return []
    data = {**parity, "arch": arch}
    lines = ["", "## Training parity", "", "A benchmark beside the verdict, not part of it. " + describe(data), ""]
    lines.append(render_parity_table(data).rstrip("\n"))
    if parity.get("plot"):
        lines += ["", f"![{arch}: training loss per method]({parity['plot']})"]
    return lines


def _skipped(count: int) -> str:
    return f" ({count} check{'s' if count != 1 else ''} skipped)" if count else ""


def _tree(dirty: bool | None) -> str:
    if dirty is None:
        return " (working tree state unknown)"
    return " (working tree had uncommitted changes: the commit alone does not reproduce this run)" if dirty else ""


def _spec_lines(spec: Mapping[str, Any]) -> list[str]:
    """Where the spec came from and the layout that matched: the spec module, its source hash, the layer stacks."""
    if not spec:
        return ["- spec: unknown (results from before certificates recorded it)"]
    digest = spec.get("source_sha256")
    source = f" ({spec['source']})" if spec.get("source") else ""
    lines = [f"- spec: `{spec.get('module') or 'unknown'}`{source}, sha256 {digest or 'unknown'}"]
    layout = spec.get("layout")
    if layout:
        lines.append(f"- layout: `{layout['name']}`, embeddings `{layout['embeddings']}`")
        for stack in layout.get("stacks", []):
            attention = stack["self_attention"]
            projections = (
                f"qkv `{attention['qkv']}` ({attention['qkv_layout']})"
                if attention.get("qkv")
                else f"q/k/v `{attention['q']}`, `{attention['k']}`, `{attention['v']}`"
            )
            lines.append(
                f"  - {stack['name']} `{stack['path']}`: {projections}, output `{attention['output']}`, "
                f"FFN `{stack['ffn_in']}` → `{stack['ffn_out']}`, {stack['norm_position']}-norm"
                + (", cross-attention" if stack.get("cross_attention") else "")
            )
    elif spec.get("layout_error"):
        lines.append(f"- layout: not resolved ({spec['layout_error']})")
    return lines
