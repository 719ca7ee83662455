"""The matrix as one self-contained HTML page: a colour grid per transformers version, details on hover and click.

No network: styles, script and data are inline. Without JavaScript every tab is shown one after the other and the
hover titles still explain each cell; with it, tabs switch and a click lists the checks behind a cell.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from reports.cells import FAILED, GAP, NOT_APPLICABLE, NOT_RUN, PASSED
from reports.matrix import GENERATED_BY, cell_statuses


SYMBOL = {PASSED: "✓", FAILED: "✗", GAP: "gap", NOT_RUN: "–", NOT_APPLICABLE: "n/a"}
WORD = {PASSED: "passed", FAILED: "failed", GAP: "declared gap", NOT_RUN: "not run", NOT_APPLICABLE: "not applicable"}
MAX_TITLE_CHECKS = 5

STYLE = """
:root { --pass: #2da44e; --fail: #cf222e; --gap: #afb8c1; --none: #f6f8fa; --ink: #1f2328; --muted: #656d76; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
header { padding: 14px 20px 6px; }
h1 { font-size: 20px; margin: 0 0 4px; }
p { margin: 4px 0; }
.muted { color: var(--muted); }
.legend span.sw { display: inline-block; min-width: 26px; padding: 0 4px; margin: 0 4px 0 12px; text-align: center;
  border-radius: 3px; font-weight: 600; }
nav { display: flex; gap: 4px; padding: 8px 20px 0; border-bottom: 1px solid #d0d7de; }
nav button { font: inherit; padding: 6px 12px; border: 1px solid #d0d7de; border-bottom: none; background: #f6f8fa;
  border-radius: 6px 6px 0 0; cursor: pointer; }
nav button[aria-selected="true"] { background: #fff; font-weight: 600; position: relative; top: 1px; }
nav .bad { color: var(--fail); font-weight: 600; }
.layout { display: flex; gap: 16px; padding: 12px 20px 20px; align-items: flex-start; }
.panels { flex: 1 1 auto; overflow-x: auto; }
.panel h2 { font-size: 15px; margin: 4px 0 8px; }
table.grid { border-collapse: separate; border-spacing: 2px; table-layout: fixed; }
.grid th { font-weight: 600; font-size: 12px; }
.grid thead tr.groups th { font-weight: 400; color: var(--muted); border-bottom: 2px solid #d0d7de; padding: 0 0 2px;
  white-space: nowrap; }
.grid thead th.feature { vertical-align: bottom; width: 46px; height: 112px; padding: 2px 0; }
.grid thead th.feature span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  display: inline-block; }
.grid thead th.model { width: 84px; }
.grid tbody th { text-align: left; padding: 0 8px 0 0; white-space: nowrap; font-size: 13px; }
td.cell { width: 46px; height: 28px; text-align: center; font-size: 12px; font-weight: 600; border-radius: 3px;
  cursor: pointer; padding: 0; overflow: hidden; white-space: nowrap; }
td.cell:focus, td.cell.selected { outline: 3px solid #0969da; outline-offset: 1px; }
.passed { background: var(--pass); color: #fff; }
.failed { background: var(--fail); color: #fff; }
.gap { background: var(--gap); color: var(--ink); }
.not_applicable { background: var(--none); color: var(--muted); }
.not_run { background: var(--none); color: #8c959f; font-weight: 400; }
td.multi div { display: flex; gap: 1px; height: 28px; padding: 2px; background: #d0d7de; border-radius: 4px; }
td.multi span { flex: 1 1 0; border-radius: 2px; display: flex; align-items: center; justify-content: center; }
aside { flex: 0 0 320px; position: sticky; top: 8px; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px;
  max-height: calc(100vh - 16px); overflow-y: auto; font-size: 13px; }
aside h3 { font-size: 14px; margin: 0 0 6px; }
aside h4 { font-size: 13px; margin: 10px 0 4px; }
aside ul { margin: 2px 0; padding-left: 18px; }
aside li { margin: 2px 0; word-break: break-word; }
aside code { font-size: 12px; }
.tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-weight: 600; font-size: 12px; }
footer { padding: 0 20px 20px; font-size: 12px; }
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("matrix-data").textContent);
  var byName = {};
  data.architectures.forEach(function (a) { byName[a.name] = a; });
  var word = {passed: "passed", failed: "failed", gap: "declared gap", not_run: "not run", not_applicable: "not applicable"};
  var tabs = document.querySelectorAll("nav button");
  var panels = document.querySelectorAll("section.panel");
  function show(id) {
    tabs.forEach(function (t) { t.setAttribute("aria-selected", t.dataset.tab === id ? "true" : "false"); });
    panels.forEach(function (p) { p.hidden = p.id !== id; });
  }
  tabs.forEach(function (t) { t.addEventListener("click", function () { show(t.dataset.tab); }); });
  show(tabs[0].dataset.tab);
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
  }
  function codeOf(c) {
    return "<code title='" + esc(c.nodeid) + "'>" + esc(c.check) + (c.method ? " [" + esc(c.method) + "]" : "") +
      "</code>";
  }
  function names(list) {
    return "<ul>" + list.map(function (c) { return "<li>" + codeOf(c) + "</li>"; }).join("") + "</ul>";
  }
  function failureGroups(arch, feature, version) {
    // grouped by outcome and reason on the server (reports.html.failure_groups): one reason once, with a count
    var td = document.querySelector("td.cell[data-version='" + version + "']" +
      "[data-arch='" + arch + "'][data-feature='" + feature + "']");
    return td && td.dataset.failures ? JSON.parse(td.dataset.failures) : [];
  }
  function checksHtml(cell, groups) {
    var na = cell.checks.filter(function (c) { return c.outcome === "n/a"; });
    var gaps = cell.checks.filter(function (c) { return c.outcome === "gap"; });
    var good = cell.checks.filter(function (c) { return c.outcome === "passed"; });
    var html = "";
    if (groups.length) {
      html += "<ul>" + groups.map(function (g) {
        var which = g.count === 1 ? " " + codeOf(g.checks[0])
          : " <details><summary>" + g.count + " checks</summary>" + names(g.checks) + "</details>";
        return "<li><span class='tag failed'>" + esc(g.outcome) + (g.count > 1 ? " ×" + g.count : "") + "</span>" +
          (g.reason ? " " + esc(g.reason) : "") + which + "</li>";
      }).join("") + "</ul>";
    }
    if (gaps.length) html += "<details><summary>" + gaps.length + " skipped as a declared gap</summary>" + names(gaps) + "</details>";
    if (na.length) html += "<details><summary>" + na.length + " not applicable</summary>" + names(na) + "</details>";
    if (good.length) html += "<details><summary>" + good.length + " passed</summary>" + names(good) + "</details>";
    return html || "<p class='muted'>No check ran.</p>";
  }
  function details(td) {
    document.querySelectorAll("td.selected").forEach(function (c) { c.classList.remove("selected"); });
    td.classList.add("selected");
    var arch = byName[td.dataset.arch], feature = td.dataset.feature;
    var versions = td.dataset.version === "all" ? arch.transformers_versions : [td.dataset.version];
    var html = "<h3>" + esc(arch.name) + " × " + esc(feature) + "</h3>";
    versions.forEach(function (v) {
      var cell = (arch.cells[feature] || {})[v];
      if (!cell) { html += "<h4>transformers " + esc(v) + ": not tested</h4>"; return; }
      var c = cell.counts;
      html += "<h4>transformers " + esc(v) + ": <span class='tag " + cell.status + "'>" + word[cell.status] +
        "</span> <span class='muted'>" + c.passed + " passed, " + (c.failed + c.error + c.skipped) +
        " not passing, " + c.gap + " gap, " + (c["n/a"] || 0) + " n/a</span></h4>";
      if (cell.reason) html += "<p>Reason: " + esc(cell.reason) + "</p>";
      html += checksHtml(cell, failureGroups(arch.name, feature, v));
    });
    document.getElementById("details").innerHTML = html;
  }
  document.querySelectorAll("td.cell").forEach(function (td) {
    td.addEventListener("click", function () { details(td); });
    td.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); details(td); } });
  });
})();
"""


def render_html(matrix: dict[str, Any]) -> str:
    """The page. Deterministic: made from the matrix alone."""
    versions = matrix["transformers_versions"]
    features = matrix["features"]
    anchors = {f["name"] for f in features if f.get("anchor")}
    tabs = [("all", "All versions", None)] + [(_tab_id(v), f"transformers {v}", v) for v in versions]
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Adapter conformance matrix</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        "<h1>Adapter conformance: architecture × feature × transformers version</h1>",
        f"<p>Implementation under test: <code>{escape(matrix['impl'])}</code> · transformers "
        f"{escape(', '.join(versions))} · generated by <code>{GENERATED_BY}</code></p>",
        '<p class="legend">'
        + "".join(
            f'<span class="sw {s}">{SYMBOL[s]}</span>{WORD[s]}' for s in (PASSED, FAILED, GAP, NOT_RUN, NOT_APPLICABLE)
        )
        + ' <span class="muted">· hover a cell for a summary, click it for the checks behind it</span></p>',
        "</header>",
        '<nav role="tablist">',
    ]
    for tab_id, label, version in tabs:
        failing = _failing_cells(matrix, version)
        badge = f' <span class="bad">{failing} ✗</span>' if failing else ""
        parts.append(f'<button type="button" role="tab" data-tab="tab-{tab_id}">{escape(label)}{badge}</button>')
    parts += ["</nav>", '<div class="layout">', '<div class="panels">']
    for tab_id, label, version in tabs:
        parts.append(f'<section class="panel" id="tab-{tab_id}" data-version="{escape(version or "all")}">')
        note = (
            f' <span class="muted">· each cell: one stripe per version, left to right {escape(", ".join(versions))}</span>'
            if version is None
            else ' <span class="muted">· ✓n: n checks passed · ✗n: n checks failed, errored or skipped</span>'
        )
        parts.append(f"<h2>{escape(label)}{note}</h2>")
        parts.append(_grid(matrix, features, anchors, version))
        parts.append("</section>")
    parts += [
        "</div>",
        '<aside id="details"><p class="muted">Click a cell to see the checks behind it, with the reason of '
        "every failure and gap.</p></aside>",
        "</div>",
        _footer(matrix),
        f'<script type="application/json" id="matrix-data">{_embedded(matrix)}</script>',
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _grid(matrix: dict[str, Any], features: list[dict[str, Any]], anchors: set[str], version: str | None) -> str:
    versions = matrix["transformers_versions"]
    ours = len(features) - len(anchors)
    groups = (
        '<tr class="groups"><th></th>'
        + (f'<th colspan="{len(anchors)}">columns of the AdapterHub model table</th>' if anchors else "")
        + (f'<th colspan="{ours}">checked in addition</th>' if ours else "")
        + "</tr>"
    )
    head = "".join(
        f'<th class="feature" title="{escape(f["name"])}"><span>'
        + escape(" ".join(part.strip() for part in f["title"].split("<br>")))
        + "</span></th>"
        for f in features
    )
    head = f'<thead>{groups}<tr><th class="model">Model</th>{head}</tr></thead>'
    rows = [f'<table class="grid">{head}<tbody>']
    for arch in matrix["architectures"]:
        cells = []
        for f in features:
            name = f["name"]
            data = f'data-arch="{escape(arch["name"])}" data-feature="{escape(name)}"'
            if version is None:
                statuses = cell_statuses(arch, name, versions)
                stripes = "".join(
                    f'<span class="{s}" data-version="{escape(v)}">{SYMBOL[s] if s != GAP else ""}</span>'
                    for v, s in zip(versions, statuses, strict=True)
                )
                title = "\n".join(_title_line(arch, name, v) for v in versions)
                cells.append(
                    f'<td class="cell multi" tabindex="0" {data} data-version="all" title="{escape(title)}">'
                    f"<div>{stripes}</div></td>"
                )
            else:
                (status,) = cell_statuses(arch, name, [version])
                cells.append(
                    f'<td class="cell {status}" tabindex="0" {data} data-version="{escape(version)}" '
                    f'data-status="{status}"{_failures_attribute(arch, name, version)} '
                    f'title="{escape(_title_line(arch, name, version))}">{_label(arch, name, version)}</td>'
                )
        rows.append(f'<tr><th scope="row">{escape(arch["name"])}</th>{"".join(cells)}</tr>')
    rows.append("</tbody></table>")
    return "".join(rows)


def _label(arch: dict[str, Any], feature: str, version: str) -> str:
    cell = arch["cells"].get(feature, {}).get(version)
    if cell is None or cell["status"] in (GAP, NOT_RUN, NOT_APPLICABLE):
        return SYMBOL[cell["status"] if cell else NOT_RUN]
    counts = cell["counts"]
    if cell["status"] == PASSED:
        return f"{SYMBOL[PASSED]}{counts['passed']}"
    return f"{SYMBOL[FAILED]}{sum(counts.values()) - counts['gap'] - counts.get('n/a', 0) - counts['passed']}"


def _title_line(arch: dict[str, Any], feature: str, version: str) -> str:
    """The hover text: what the cell is on one version, and why when it is not a pass."""
    cell = arch["cells"].get(feature, {}).get(version)
    where = f"{arch['name']} × {feature} on transformers {version}"
    if cell is None:
        return f"{where}: not tested"
    counts = cell["counts"]
    text = f"{where}: {WORD[cell['status']]}"
    if cell["status"] in (GAP, NOT_APPLICABLE):
        return f"{text}: {cell['reason']}"
    if cell["status"] == NOT_RUN:
        return f"{text} (no check ran, no gap declared)"
    ran = sum(counts.values()) - counts["gap"] - counts.get("n/a", 0)
    text += f", {counts['passed']} of {ran} checks passed"
    groups = failure_groups(cell["checks"])
    for group in groups[:MAX_TITLE_CHECKS]:
        first = group["checks"][0]
        which = f"{first['check']}[{first['method'] or ''}]" if group["count"] == 1 else f"{group['count']} checks"
        text += f"\n  {group['outcome']}: {which}: {group['reason'][:160]}"
    if len(groups) > MAX_TITLE_CHECKS:
        more = sum(g["count"] for g in groups[MAX_TITLE_CHECKS:])
        text += f"\n  and {more} more (click the cell)"
    return text


def failure_groups(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks of a cell that did not pass, grouped by outcome and reason (whitespace aside): a reason is listed
    once, with how many checks gave it; the most frequent first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in checks:
        if c["outcome"] not in ("passed", "gap", "n/a"):
            groups.setdefault((c["outcome"], " ".join(c["reason"].split())), []).append(c)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "outcome": outcome,
            "reason": reason,
            "count": len(members),
            "checks": [{"check": c["check"], "method": c["method"], "nodeid": c["nodeid"]} for c in members],
        }
        for (outcome, reason), members in ordered
    ]


def _failures_attribute(arch: dict[str, Any], feature: str, version: str) -> str:
    cell = arch["cells"].get(feature, {}).get(version)
    groups = failure_groups(cell["checks"]) if cell else []
    if not groups:
        return ""
    return f' data-failures="{escape(json.dumps(groups, ensure_ascii=False, separators=(",", ":")))}"'


def _failing_cells(matrix: dict[str, Any], version: str | None) -> int:
    versions = matrix["transformers_versions"] if version is None else [version]
    return sum(
        FAILED in cell_statuses(arch, f["name"], versions)
        for arch in matrix["architectures"]
        for f in matrix["features"]
    )


def _footer(matrix: dict[str, Any]) -> str:
    runs = matrix.get("runs", {})
    items = []
    for version in matrix["transformers_versions"]:
        stamps = runs.get(version, {})
        described = ", ".join(
            f"{key} {stamps[key]}" for key in ("python", "torch", "commit", "date") if stamps.get(key)
        )
        items.append(f"<li>transformers {escape(version)}: {escape(described or 'no stamps')}</li>")
    return f'<footer class="muted"><p>Runs behind this page:</p><ul>{"".join(items)}</ul></footer>'


def _embedded(matrix: dict[str, Any]) -> str:
    """The matrix as JSON that cannot end the <script> element early."""
    return json.dumps(matrix, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _tab_id(version: str) -> str:
    return "v" + "".join(ch if ch.isalnum() else "-" for ch in version)
