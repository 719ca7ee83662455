"""Self-tests of `reports`: result files, cell semantics, the markdown/JSON table and `python -m reports render`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from architectures.features import feature
from architectures.versions import installed
from reports.cells import FAILED, GAP, NOT_APPLICABLE, NOT_RUN, PASSED, Table, build_table, version_ranges
from reports.json_table import render_json, table_dict
from reports.markdown import NOT_RUN_MARK, render_markdown
from reports.results import Check, load_results, write_results


REPO = Path(__file__).resolve().parents[1]


def env(transformers: str = "5.24.0", **overrides: Any) -> dict[str, Any]:
    return {
        "python": "3.11.7",
        "torch": "2.13.0+cpu",
        "transformers": transformers,
        "adapter_conformance": "0.1.0",
        "impl": "reference",
        "commit": None,
        "date": "2026-11-27T02:00:00Z",
        **overrides,
    }


def check(arch: str, feature: str, name: str, outcome: str, reason: str = "", method: str | None = None) -> dict:
    method = method or {"bottleneck": "seq_bn", "lora": "lora"}.get(feature, feature)
    return {
        "arch": arch,
        "feature": feature,
        "method": method,
        "check": name,
        "nodeid": f"conformance/suite/test_{feature}.py::Test::{name}[{arch}-{method}]",
        "outcome": outcome,
        "reason": reason,
        "duration": 0.25,
    }


def results_dict(checks: list[dict], gaps: dict[str, dict[str, str]] | None = None, **env_overrides: Any) -> dict:
    gaps = gaps or {}
    arches = sorted({c["arch"] for c in checks} | set(gaps))
    return {
        "schema": 1,
        "environment": env(**env_overrides),
        "selection": {"arches": arches, "methods": ["seq_bn", "lora"]},
        "architectures": {a: {"modality": "text_encoder", "gaps": gaps.get(a, {})} for a in arches},
        "checks": checks,
    }


def dump(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# The unit tests build tables over these two columns only, so they do not depend on the full FEATURES list.
TEST_FEATURES = (feature("bottleneck"), feature("lora"))


def table_of(tmp_path: Path, *datas: dict) -> Table:
    files = [load_results(dump(tmp_path / f"r{i}.json", d)) for i, d in enumerate(datas)]
    return build_table(files, features=TEST_FEATURES)


def cell(table: Table, arch: str, feature: str):
    (row,) = [r for r in table.rows if r.arch == arch]
    return row.cells[feature]


def md_row(markdown: str, arch: str) -> list[str]:
    # the name links to the architecture's page when render wrote pages
    (line,) = [line for line in markdown.splitlines() if line.startswith((f"| {arch} |", f"| [{arch}]("))]
    return [c.strip() for c in line.strip("|").split("|")]


def md_cell(markdown: str, arch: str, feature_name: str) -> str:
    """The text of one cell, found by its column heading (whatever columns the table has)."""
    (header,) = [line for line in markdown.splitlines() if line.startswith("| Model |")]
    titles = [c.strip() for c in header.strip("|").split("|")]
    return md_row(markdown, arch)[titles.index(feature(feature_name).title)]


def footnote(markdown: str, mark: str) -> str:
    """The text of footnote `<sup>n</sup>` as rendered below the table."""
    (line,) = [line for line in markdown.splitlines() if line.startswith(mark + " ")]
    return line[len(mark) + 1 :]


def mark_of(cell_text: str) -> str:
    return cell_text[cell_text.index("<sup>") :]


# --- result files -------------------------------------------------------------------------------------------


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    data = results_dict([check("bert", "lora", "test_merge", "passed")], gaps={"bert": {"bottleneck": "why"}})
    path = tmp_path / "out" / "latest.json"
    write_results(path, data["environment"], data["selection"], data["architectures"], data["checks"])
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert [p.name for p in path.parent.iterdir()] == ["latest.json"]  # no temp file left behind
    loaded = load_results(path)
    assert loaded.transformers == "5.24.0"
    assert loaded.impl == "reference"
    assert loaded.architectures["bert"].gaps == {"bottleneck": "why"}
    assert loaded.checks == (Check(**data["checks"][0]),)


def test_write_results_accepts_dataclasses(tmp_path: Path) -> None:
    c = Check("bert", "lora", "lora", "test_x", "a::b[bert-lora]", "passed", "", 0.5)
    path = tmp_path / "r.json"
    write_results(path, env(), {"arches": ["bert"], "methods": ["lora"]}, {"bert": {"modality": "m", "gaps": {}}}, [c])
    assert load_results(path).checks == (c,)


def test_write_results_refuses_malformed_and_keeps_old_file(tmp_path: Path) -> None:
    path = dump(tmp_path / "r.json", {"old": True})
    bad = results_dict([check("bert", "lora", "test_x", "pass")])
    with pytest.raises(ValueError, match=r"checks\[0\]\.outcome"):
        write_results(path, bad["environment"], bad["selection"], bad["architectures"], bad["checks"])
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def _drop(key_path: tuple) -> Any:
    def edit(d: dict) -> None:
        target = d
        for key in key_path[:-1]:
            target = target[key]
        del target[key_path[-1]]

    return edit


def _set(key_path: tuple, value: Any) -> Any:
    def edit(d: dict) -> None:
        target = d
        for key in key_path[:-1]:
            target = target[key]
        target[key_path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_set(("schema",), 2), "'schema'"),
        (_drop(("schema",)), "'schema'"),
        (_drop(("environment", "transformers")), "'environment.transformers'"),
        (_set(("environment", "transformers"), ""), "'environment.transformers'"),
        (_set(("environment", "impl"), None), "'environment.impl'"),
        (_set(("selection", "arches"), "bert"), "'selection.arches'"),
        (_drop(("architectures", "bert", "modality")), "'architectures.bert.modality'"),
        (_set(("architectures", "bert", "gaps"), {"lora": ""}), "'architectures.bert.gaps.lora'"),
        (_set(("checks",), {}), "'checks'"),
        (_set(("checks", 0, "outcome"), "pass"), r"'checks\[0\]\.outcome'"),
        (_drop(("checks", 0, "nodeid")), r"'checks\[0\]\.nodeid'"),
        (_set(("checks", 0, "duration"), "fast"), r"'checks\[0\]\.duration'"),
        (_set(("checks", 0, "arch"), "gpt2"), r"'checks\[0\]\.arch'"),
        (_set(("checks", 0, "outcome"), "gap"), r"'checks\[0\]\.reason'"),  # a gap needs its reason
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, edit: Any, field: str) -> None:
    data = results_dict([check("bert", "lora", "test_x", "passed")])
    edit(data)
    path = dump(tmp_path / "broken.json", data)
    with pytest.raises(ValueError, match=rf"broken\.json.*{field}"):
        load_results(path)


def test_invalid_json_names_file(tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    path.write_text('{"schema": 1, "checks": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"truncated\.json.*not valid JSON"):
        load_results(path)


# --- cell semantics -----------------------------------------------------------------------------------------


def test_all_passed_is_pass(tmp_path: Path) -> None:
    table = table_of(
        tmp_path, results_dict([check("bert", "lora", "a", "passed"), check("bert", "lora", "b", "passed")])
    )
    c = cell(table, "bert", "lora")
    assert c.status == PASSED
    assert c.failing == ()
    assert c.counts["passed"] == 2
    assert md_cell(render_markdown(table), "bert", "lora") == "✅"


def test_not_applicable_checks_are_neither_a_pass_nor_a_failure(tmp_path: Path) -> None:
    why = "prefix_tuning takes no part in Fuse: a prefix has no output of its own"
    table = table_of(
        tmp_path,
        results_dict(
            [
                check("bert", "lora", "a", "passed"),
                check("bert", "lora", "b", "n/a", reason=why),
                check("bert", "bottleneck", "c", "n/a", reason=why),
            ]
        ),
    )
    mixed, only = cell(table, "bert", "lora"), cell(table, "bert", "bottleneck")
    assert mixed.status == PASSED and mixed.failing == () and mixed.counts["n/a"] == 1
    assert only.status == NOT_APPLICABLE and only.reason == why and only.failing == ()
    md = render_markdown(table)
    text = md_cell(md, "bert", "bottleneck")
    assert text.startswith("n/a<sup>") and "✅" not in text
    assert why in footnote(md, mark_of(text))
    assert "n/a no check applies" in md


def test_a_not_applicable_outcome_needs_its_reason(tmp_path: Path) -> None:
    path = dump(tmp_path / "r.json", results_dict([check("bert", "lora", "a", "n/a")]))
    with pytest.raises(ValueError, match="'n/a' outcome needs its reason"):
        load_results(path)


@pytest.mark.parametrize("outcome", ["failed", "error", "skipped"])
def test_any_non_passing_check_fails_the_cell_with_its_nodeid(tmp_path: Path, outcome: str) -> None:
    bad = check("bert", "lora", "test_bad", outcome, reason="boom")
    table = table_of(tmp_path, results_dict([check("bert", "lora", "test_ok", "passed"), bad]))
    c = cell(table, "bert", "lora")
    assert c.status == FAILED
    assert [check.nodeid for _, check in c.failing] == [bad["nodeid"]]
    md = render_markdown(table)
    text = md_cell(md, "bert", "lora")
    assert text.startswith("❌<sup>")
    short = bad["nodeid"].split("::", 1)[1]  # the file is left out: every check of the suite shares it
    assert f"`{short}` ({outcome}: boom)" in footnote(md, mark_of(text))
    assert "test_ok" not in footnote(md, mark_of(text))
    (json_cell,) = [a["cells"]["lora"] for a in table_dict(table)["architectures"]]
    assert json_cell["status"] == "failed"
    assert [f["nodeid"] for f in json_cell["failing"]] == [bad["nodeid"]]
    assert json_cell["counts"] == {"passed": 1, "failed": 0, "error": 0, "skipped": 0, "gap": 0, "n/a": 0} | {
        outcome: 1
    }


def test_all_gap_is_blank_with_reason_footnote(tmp_path: Path) -> None:
    reason = "GPT-2 fuses q/k/v in a Conv1D"
    data = results_dict(
        [check("gpt2", "lora", "a", "gap", reason), check("gpt2", "lora", "b", "gap", reason)],
        gaps={"gpt2": {"lora": reason}},
    )
    table = table_of(tmp_path, data)
    c = cell(table, "gpt2", "lora")
    assert (c.status, c.reason) == (GAP, reason)
    md = render_markdown(table)
    text = md_cell(md, "gpt2", "lora")
    assert text.startswith("<sup>")
    assert "✅" not in text
    assert "❌" not in text
    assert footnote(md, text) == reason


def test_declared_gap_without_checks_is_a_gap(tmp_path: Path) -> None:
    data = results_dict([check("gpt2", "bottleneck", "a", "passed")], gaps={"gpt2": {"lora": "no LoRA here"}})
    c = cell(table_of(tmp_path, data), "gpt2", "lora")
    assert (c.status, c.reason) == (GAP, "no LoRA here")


def test_gap_checks_are_ignored_when_others_ran(tmp_path: Path) -> None:
    passing = results_dict([check("bert", "lora", "a", "gap", "r"), check("bert", "lora", "b", "passed")])
    assert cell(table_of(tmp_path / "p", passing), "bert", "lora").status == PASSED
    failing = results_dict([check("bert", "lora", "a", "gap", "r"), check("bert", "lora", "b", "failed")])
    assert cell(table_of(tmp_path / "f", failing), "bert", "lora").status == FAILED


def test_plain_skip_is_not_excused_by_a_declared_gap(tmp_path: Path) -> None:
    data = results_dict([check("bert", "lora", "a", "skipped", "no reason")], gaps={"bert": {"lora": "declared"}})
    assert cell(table_of(tmp_path, data), "bert", "lora").status == FAILED


def test_missing_is_not_run_never_pass(tmp_path: Path) -> None:
    table = table_of(tmp_path, results_dict([check("bert", "bottleneck", "a", "passed")]))
    c = cell(table, "bert", "lora")
    assert c.status == NOT_RUN
    assert c.counts == dict.fromkeys(c.counts, 0)
    md = render_markdown(table)
    assert md_cell(md, "bert", "lora") == NOT_RUN_MARK  # the legend explains it; no footnote needed
    assert json.loads(render_json(table))["architectures"][0]["cells"]["lora"]["status"] == "not_run"


def test_merge_two_files_of_one_version(tmp_path: Path) -> None:
    shard_a = results_dict([check("bert", "lora", "a", "passed"), check("gpt2", "lora", "a", "passed")])
    shard_b = results_dict([check("bert", "lora", "b", "failed"), check("gpt2", "lora", "b", "passed")])
    table = table_of(tmp_path, shard_a, shard_b)
    assert table.versions == ("5.24.0",)
    assert [r.arch for r in table.rows] == ["bert", "gpt2"]
    assert cell(table, "bert", "lora").status == FAILED
    gpt2 = cell(table, "gpt2", "lora")
    assert gpt2.status == PASSED
    assert gpt2.counts["passed"] == 2
    assert md_row(render_markdown(table), "gpt2")[-1] == "5.24.0"


def test_merge_of_separate_arch_runs_keeps_each_arch(tmp_path: Path) -> None:
    bert_run = results_dict([check("bert", "lora", "a", "passed")])
    gpt2_run = results_dict([check("gpt2", "lora", "a", "failed")])
    table = table_of(tmp_path, gpt2_run, bert_run)
    assert (cell(table, "bert", "lora").status, cell(table, "gpt2", "lora").status) == (PASSED, FAILED)


def test_identical_check_in_two_files_counts_once(tmp_path: Path) -> None:
    data = results_dict([check("bert", "lora", "a", "passed")])
    assert cell(table_of(tmp_path, data, copy.deepcopy(data)), "bert", "lora").counts["passed"] == 1


def test_two_versions_one_failing_is_fail(tmp_path: Path) -> None:
    old = results_dict([check("bert", "lora", "a", "failed", "shape mismatch")], transformers="4.57.6")
    new = results_dict([check("bert", "lora", "a", "passed")], transformers="5.24.0")
    table = table_of(tmp_path, new, old)
    c = cell(table, "bert", "lora")
    assert c.status == FAILED
    assert c.versions == {"4.57.6": FAILED, "5.24.0": PASSED}
    assert [v for v, _ in c.failing] == ["4.57.6"]
    md = render_markdown(table)
    assert md_row(md, "bert")[-1] == "5.24.0"  # certified only where nothing failed
    assert "on transformers 4.57.6" in footnote(md, mark_of(md_cell(md, "bert", "lora")))


def test_two_versions_both_passing_is_pass(tmp_path: Path) -> None:
    old = results_dict([check("bert", "lora", "a", "passed")], transformers="4.57.6")
    new = results_dict([check("bert", "lora", "a", "passed")], transformers="5.24.0")
    assert cell(table_of(tmp_path, old, new), "bert", "lora").status == PASSED


def test_pass_on_one_version_and_not_run_on_another_is_not_pass(tmp_path: Path) -> None:
    old = results_dict([check("bert", "bottleneck", "a", "passed")], transformers="4.57.6")
    new = results_dict([check("bert", "lora", "a", "passed"), check("bert", "bottleneck", "a", "passed")])
    table = table_of(tmp_path, old, new)
    c = cell(table, "bert", "lora")
    assert (c.status, c.reason) == (NOT_RUN, "not run on transformers 4.57.6")
    md = render_markdown(table)
    text = md_cell(md, "bert", "lora")
    assert text.startswith(NOT_RUN_MARK + "<sup>")
    assert footnote(md, mark_of(text)) == "not run on transformers 4.57.6"
    assert md_row(md, "bert")[-1] == "5.24.0"  # lora ran on 5.24.0 only: 4.57.6 is not certified for the row


def test_gap_on_one_version_pass_on_another_is_gap_naming_the_version(tmp_path: Path) -> None:
    bottleneck = check("bert", "bottleneck", "a", "passed")
    old = results_dict([check("bert", "lora", "a", "gap", "no attention registry"), bottleneck], transformers="4.57.6")
    new = results_dict([check("bert", "lora", "a", "passed"), bottleneck], transformers="5.24.0")
    table = table_of(tmp_path, old, new)
    c = cell(table, "bert", "lora")
    assert (c.status, c.reason) == (GAP, "no attention registry (transformers 4.57.6)")
    # Supported on 5.24.0: a ✅ whose footnote names the version where it is a gap, and why.
    md = render_markdown(table)
    text = md_cell(md, "bert", "lora")
    assert text.startswith("✅<sup>")
    assert footnote(md, mark_of(text)) == "Not supported on transformers 4.57.6: no attention registry"
    assert md_row(md, "bert")[-1] == "4.57.6 – 5.24.0"  # a declared gap does not void a version


def test_arch_only_in_some_versions_is_judged_on_those(tmp_path: Path) -> None:
    old = results_dict([check("bert", "lora", "a", "failed")], transformers="4.57.6")
    new = results_dict([check("bert", "lora", "a", "passed"), check("gpt2", "lora", "a", "passed")])
    table = table_of(tmp_path, old, new)
    assert cell(table, "gpt2", "lora").status == PASSED
    assert [r.versions for r in table.rows] == [("4.57.6", "5.24.0"), ("5.24.0",)]


def test_versions_sort_numerically(tmp_path: Path) -> None:
    datas = [
        results_dict([check("bert", "lora", "a", "passed")], transformers=v) for v in ("5.10.0", "5.9.1", "4.57.6")
    ]
    assert table_of(tmp_path, *datas).versions == ("4.57.6", "5.9.1", "5.10.0")


def test_different_implementations_are_refused(tmp_path: Path) -> None:
    a = results_dict([check("bert", "lora", "a", "passed")])
    b = results_dict([check("bert", "lora", "a", "passed")], impl="adapters")
    with pytest.raises(ValueError, match="different implementations"):
        table_of(tmp_path, a, b)


# --- rendering ----------------------------------------------------------------------------------------------


def test_markdown_layout(tmp_path: Path) -> None:
    data = results_dict(
        [check("gpt2", "lora", "a", "passed"), check("bert", "bottleneck", "a", "passed")],
        gaps={"gpt2": {"bottleneck": "same reason"}, "albert": {"bottleneck": "same reason"}},
    )
    md = render_markdown(table_of(tmp_path, data))
    assert md.startswith("# Model Overview\n")
    assert "generated by `python -m reports render`" in md
    assert "do not edit it by hand" in md
    header = next(line for line in md.splitlines() if line.startswith("| Model |"))
    assert header == "| " + " | ".join(["Model", *(f.title for f in TEST_FEATURES), "Transformers"]) + " |"
    rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ") and "Model" not in line]
    assert rows[1:] == ["albert", "bert", "gpt2"]  # rows[0] is the separator
    # One footnote per distinct text, numbered in reading order.
    assert md_cell(md, "albert", "bottleneck") == md_cell(md, "gpt2", "bottleneck") == "<sup>1</sup>"
    assert md.count("same reason") == 1


def test_output_has_no_dates_durations_or_paths(tmp_path: Path) -> None:
    data = results_dict([check("bert", "lora", "a", "failed", "x")], commit="deadbeef1234")
    table = table_of(tmp_path, data)
    for text in (render_markdown(table), render_json(table)):
        for volatile in ("2026-11-27", "0.25", "deadbeef1234", str(tmp_path), "2.13.0", "3.11.7"):
            assert volatile not in text


def test_render_is_independent_of_file_order(tmp_path: Path) -> None:
    a = results_dict([check("bert", "lora", "b", "failed"), check("gpt2", "lora", "a", "skipped")])
    b = results_dict([check("bert", "lora", "a", "error")], transformers="4.57.6")
    one, two = table_of(tmp_path / "1", a, b), table_of(tmp_path / "2", b, a)
    assert render_markdown(one) == render_markdown(two)
    assert render_json(one) == render_json(two)


# --- CLI ----------------------------------------------------------------------------------------------------


def run_cli(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "reports", *args],
        check=False,
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with results/ holding two shards of one version and one file of another."""
    dump(tmp_path / "results" / "a.json", results_dict([check("bert", "lora", "a", "passed")]))
    dump(tmp_path / "results" / "nightly" / "b.json", results_dict([check("gpt2", "lora", "a", "failed")]))
    dump(
        tmp_path / "results" / "old.json", results_dict([check("bert", "lora", "a", "passed")], transformers="4.57.6")
    )
    return tmp_path


def test_cli_render_writes_both_files_and_rerender_is_byte_identical(project: Path) -> None:
    first = run_cli(project, "render")
    assert first.returncode == 0, first.stderr
    md_path, json_path = project / "docs" / "model_overview.md", project / "docs" / "model_overview.json"
    md, js = md_path.read_bytes(), json_path.read_bytes()
    assert md_cell(md.decode(), "bert", "lora") == "✅"
    assert md_cell(md.decode(), "gpt2", "lora").startswith("❌")
    assert json.loads(js)["transformers_versions"] == ["4.57.6", "5.24.0"]
    committed = project / "docs" / "per_version"
    assert sorted(p.name for p in committed.iterdir()) == ["transformers-4.57.6.json", "transformers-5.24.0.json"]
    baseline_bytes = {p: p.read_bytes() for p in committed.iterdir()}
    second = run_cli(project, "render")
    assert second.returncode == 0, second.stderr
    assert (md_path.read_bytes(), json_path.read_bytes()) == (md, js)
    assert sorted(p.name for p in md_path.parent.iterdir()) == [
        "architectures",  # a page per architecture (tests/test_pages.py)
        "model_overview.json",
        "model_overview.md",
        "per_version",
    ]
    assert {p: p.read_bytes() for p in committed.iterdir()} == baseline_bytes
    assert "docs/per_version" not in second.stdout  # unchanged results are not rewritten


def test_cli_check_passes_when_current_and_fails_after_hand_edit(project: Path) -> None:
    assert run_cli(project, "render").returncode == 0
    current = run_cli(project, "render", "--check")
    assert current.returncode == 0, current.stderr
    md_path = project / "docs" / "model_overview.md"
    edited = md_path.read_text(encoding="utf-8").replace("❌", "✅")
    md_path.write_text(edited, encoding="utf-8")
    stale = run_cli(project, "render", "--check")
    assert stale.returncode == 1
    assert "-| [gpt2](architectures/gpt2.md) | " in stale.stderr
    assert "+| [gpt2](architectures/gpt2.md) | " in stale.stderr
    assert "python -m reports render" in stale.stderr
    assert md_path.read_text(encoding="utf-8") == edited  # --check never writes


def test_cli_check_fails_when_output_missing(project: Path) -> None:
    result = run_cli(project, "render", "--check")
    assert result.returncode == 1
    assert not (project / "docs").exists()


def test_cli_explicit_files_and_outputs(project: Path) -> None:
    result = run_cli(project, "render", "results/a.json", "--out", "o/t.md", "--json", "o/t.json")
    assert result.returncode == 0, result.stderr
    md = (project / "o" / "t.md").read_text(encoding="utf-8")
    assert "gpt2" not in md
    assert "4.57.6" not in md
    stale = run_cli(project, "render", "results/a.json", "results/old.json", "--out", "o/t.md", "--json", "o/t.json")
    assert stale.returncode == 0  # rendering is not --check: it rewrites
    (project / "o" / "t.md").write_text("edited\n", encoding="utf-8")
    checked = run_cli(project, "render", "results/a.json", "--out", "o/t.md", "--json", "o/t.json", "--check")
    assert checked.returncode == 1
    assert "regenerate with: python -m reports render results/a.json --out o/t.md --json o/t.json" in checked.stderr


def test_cli_without_results_explains_how_to_produce_them(tmp_path: Path) -> None:
    (tmp_path / "empty" / "results").mkdir(parents=True)
    (tmp_path / "none").mkdir()
    for cwd, args in [(tmp_path / "none", []), (tmp_path / "empty", []), (tmp_path / "empty", ["results"])]:
        result = run_cli(cwd, "render", *args)
        assert result.returncode == 2, (cwd, args)
        assert "pytest --results results/latest.json" in result.stderr
        assert not (cwd / "docs").exists()


def test_cli_missing_explicit_path_is_an_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "render", "nowhere.json")
    assert result.returncode == 2
    assert "nowhere.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_malformed_file_names_file_and_field(project: Path) -> None:
    data = results_dict([check("bert", "lora", "a", "passed")])
    data["checks"][0]["outcome"] = "ok"
    dump(project / "results" / "bad.json", data)
    result = run_cli(project, "render")
    assert result.returncode == 2
    assert "bad.json" in result.stderr
    assert "checks[0].outcome" in result.stderr
    assert "Traceback" not in result.stderr


def test_committed_results_cover_every_version_and_a_fresh_run_replaces_its_own(tmp_path: Path) -> None:
    old = results_dict(
        [check("bert", "lora", "a", "passed"), check("bert", "bottleneck", "a", "passed")], transformers="4.57.6"
    )
    new = results_dict([check("bert", "lora", "a", "passed"), check("bert", "bottleneck", "a", "passed")])
    dump(tmp_path / "nightly" / "tf457" / "results.json", old)
    dump(tmp_path / "nightly" / "tflatest" / "results.json", new)
    assert run_cli(tmp_path, "render", "nightly").returncode == 0
    committed = tmp_path / "docs" / "per_version"
    old_bytes = (committed / "transformers-4.57.6.json").read_bytes()
    md_path = tmp_path / "docs" / "model_overview.md"
    assert md_row(md_path.read_text(encoding="utf-8"), "bert")[-1] == "4.57.6 – 5.24.0"

    # A fresh run of the newest version differing only in stamps and durations agrees with what is committed.
    fresh = copy.deepcopy(new)
    fresh["environment"] |= {
        "date": "2027-01-01T00:00:00Z",
        "commit": "abc1234",
        "python": "3.12.1",
        "torch": "2.13.0",
    }
    for c in fresh["checks"]:
        c["duration"] = 9.5
    dump(tmp_path / "results" / "latest.json", fresh)
    current = run_cli(tmp_path, "render", "--check", "results/latest.json")
    assert current.returncode == 0, current.stderr

    # The same run with one check failing: the committed results of that version and the table are stale.
    lora = fresh["checks"][0]
    lora |= {"outcome": "failed", "reason": "boom"}
    dump(tmp_path / "results" / "latest.json", fresh)
    stale = run_cli(tmp_path, "render", "--check", "results/latest.json")
    assert stale.returncode == 1
    # committed files count passed checks per cell (reports.compact): one fewer passed, and the failed check in full
    assert "docs/per_version/transformers-5.24.0.json differs from the fresh results (2 differences)" in stale.stderr
    assert "~ bert/lora/lora: 1 passed -> none" in stale.stderr
    assert f"+ {lora['nodeid']} (failed: boom)" in stale.stderr
    assert "regenerate with: python -m reports render results/latest.json" in stale.stderr

    # Regenerating rewrites that version only; the table still covers 4.57.6 from the committed file.
    assert run_cli(tmp_path, "render", "results/latest.json").returncode == 0
    assert (committed / "transformers-4.57.6.json").read_bytes() == old_bytes
    rewritten = load_results(committed / "transformers-5.24.0.json")
    assert {c.feature: c.outcome for c in rewritten.checks} == {"lora": "failed", "bottleneck": "passed"}
    assert {c.duration for c in rewritten.checks} == {0.0}  # durations are volatile: not committed
    assert rewritten.environment["commit"] == "abc1234"
    md = md_path.read_text(encoding="utf-8")
    assert md_row(md, "bert")[-1] == "4.57.6"
    assert "Not passing on transformers 5.24.0" in footnote(md, mark_of(md_cell(md, "bert", "lora")))
    assert run_cli(tmp_path, "render", "--check", "results/latest.json").returncode == 0
    assert run_cli(tmp_path, "render", "--check", "docs/per_version").returncode == 0  # as the test suite runs it


def test_volatile_parts_of_failure_reasons_do_not_make_committed_results_stale(tmp_path: Path) -> None:
    def run(number: int, address: str) -> dict:
        reason = f"OSError: no file in /tmp/pytest-of-ci/pytest-{number}/test_load0 for <Module at {address}>"
        return results_dict([check("bert", "lora", "a", "failed", reason)])

    dump(tmp_path / "results" / "latest.json", run(105, "0x7f3a9c1d2e50"))
    assert run_cli(tmp_path, "render").returncode == 0
    (committed,) = load_results(tmp_path / "docs" / "per_version" / "transformers-5.24.0.json").checks
    assert committed.reason == "OSError: no file in <tmp>/test_load0 for <Module at 0x…>"
    dump(tmp_path / "results" / "latest.json", run(7, "0x55d0aa01bc38"))
    result = run_cli(tmp_path, "render", "--check")
    assert result.returncode == 0, result.stderr


def test_check_of_a_run_on_an_uncommitted_version_names_the_missing_file(tmp_path: Path) -> None:
    dump(tmp_path / "results" / "latest.json", results_dict([check("bert", "lora", "a", "passed")]))
    assert run_cli(tmp_path, "render").returncode == 0
    dump(
        tmp_path / "results" / "latest.json",
        results_dict([check("bert", "lora", "a", "passed")], transformers="5.25.0"),
    )
    result = run_cli(tmp_path, "render", "--check")
    assert result.returncode == 1
    assert "docs/per_version/transformers-5.25.0.json is missing" in result.stderr


def test_misnamed_committed_results_are_an_error(tmp_path: Path) -> None:
    dump(tmp_path / "docs" / "per_version" / "latest.json", results_dict([check("bert", "lora", "a", "passed")]))
    result = run_cli(tmp_path, "render")
    assert result.returncode == 2
    assert "must be named transformers-5.24.0.json" in result.stderr


def test_no_baseline_renders_the_given_results_alone(project: Path) -> None:
    result = run_cli(project, "render", "results/a.json", "--no-baseline")
    assert result.returncode == 0, result.stderr
    assert not (project / "docs" / "per_version").exists()
    md = (project / "docs" / "model_overview.md").read_text(encoding="utf-8")
    assert "4.57.6" not in md


def test_committed_files_have_one_check_per_line_and_load_back(tmp_path: Path) -> None:
    data = results_dict([check("bert", "lora", "a", "passed"), check("bert", "lora", "b", "gap", "why")])
    path = tmp_path / "r.json"
    write_results(
        path, data["environment"], data["selection"], data["architectures"], data["checks"], one_check_per_line=True
    )
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == data
    assert [line.strip().rstrip(",") for line in text.splitlines() if '"nodeid"' in line] == [
        json.dumps(c, ensure_ascii=False) for c in data["checks"]
    ]


def test_outputs_of_reports_below_a_results_directory_are_not_read_as_results(project: Path) -> None:
    assert run_cli(project, "matrix", "results", "--out", "results/matrix").returncode == 0
    assert (project / "results" / "matrix" / "matrix.json").exists()
    result = run_cli(project, "render")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("certified", "expected"),
    [
        (("4.57.6", "5.0.0", "5.24.0"), "4.57.6 – 5.24.0"),
        (("5.0.0", "5.24.0"), "5.0.0 – 5.24.0"),
        (("4.57.6", "5.24.0"), "4.57.6, 5.24.0"),
        (("5.24.0",), "5.24.0"),
        ((), "none"),
    ],
)
def test_version_ranges(certified: tuple[str, ...], expected: str) -> None:
    assert version_ranges(("4.57.6", "5.0.0", "5.24.0"), certified) == expected


def _newest_committed_transformers() -> str:
    versions = [p.stem.removeprefix("transformers-") for p in (REPO / "docs" / "per_version").glob("*.json")]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


@pytest.mark.skipif(
    installed("transformers") != _newest_committed_transformers(),
    reason="the pages render the specs as the installed transformers builds them (head classes that arrive in a "
    "later release): the committed docs are rendered on the newest transformers they hold results for",
)
def test_committed_model_table_is_current() -> None:
    """docs/model_overview.{md,json} are what the committed per-version results say (CI adds a fresh run)."""
    # the whole committed table: three versions of 59 architectures, each page built from the live spec (about 70 s
    # of CPU on this machine's cores; the timeout only guards against a hang)
    result = run_cli(REPO, "render", "--check", "docs/per_version", timeout=600)
    assert result.returncode == 0, result.stderr


def test_reports_never_imports_torch_or_transformers() -> None:
    code = (
        "import sys, reports, reports.cli, reports.cells, reports.markdown, reports.json_table, reports.merge\n"
        "import reports.baseline, reports.matrix, reports.changes, reports.html, reports.certificate\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
