"""Bad result files never turn into a silent ✅: truncated files and other schema versions are clear errors, and two
files that disagree about one check make an explicit conflict in its cell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reports.cells import FAILED, build_table
from reports.markdown import render_markdown
from reports.results import load_results
from tests.test_reports import TEST_FEATURES, check, dump, results_dict


REPO = Path(__file__).resolve().parents[1]


def test_a_result_file_cut_anywhere_is_an_error_naming_it(tmp_path):
    text = json.dumps(results_dict([check("bert", "lora", "a", "passed"), check("bert", "lora", "b", "passed")]))
    for cut in range(1, len(text), max(1, len(text) // 40)):
        path = tmp_path / "cut.json"
        path.write_text(text[:cut])
        with pytest.raises(ValueError, match=f"malformed results file {path}"):
            load_results(path)


@pytest.mark.parametrize("schema", [0, 2, "1", None])
def test_another_schema_version_is_refused(tmp_path, schema):
    path = dump(tmp_path / "r.json", {**results_dict([check("bert", "lora", "a", "passed")]), "schema": schema})
    with pytest.raises(
        ValueError, match=f"field 'schema': unsupported schema {schema!r}; this version of reports reads 1"
    ):
        load_results(path)


def test_the_render_command_names_a_bad_file_and_fails(tmp_path):
    good = dump(tmp_path / "good.json", results_dict([check("bert", "lora", "a", "passed")]))
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text()[:-30])
    done = subprocess.run(
        [sys.executable, "-m", "reports", "render", str(good), str(bad), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert str(bad) in done.stderr and "not valid JSON" in done.stderr, done.stderr


def test_two_files_disagreeing_about_a_check_make_an_explicit_conflict(tmp_path):
    one = results_dict([check("bert", "lora", "a", "passed"), check("bert", "lora", "b", "passed")])
    other = results_dict([check("bert", "lora", "a", "failed", "AssertionError: drift")])
    files = [load_results(dump(tmp_path / name, data)) for name, data in (("r1.json", one), ("r2.json", other))]
    table = build_table(files, features=TEST_FEATURES)
    (row,) = table.rows
    cell = row.cells["lora"]
    assert cell.status == FAILED
    (conflict,) = [c for _, c in cell.failing]
    assert conflict.outcome == "error"
    assert conflict.reason == "result files disagree: passed in r1.json; failed in r2.json (AssertionError: drift)"
    assert "result files disagree: passed in r1.json; failed in r2.json" in render_markdown(table)
    files.reverse()
    again = build_table(files, features=TEST_FEATURES).rows[0].cells["lora"]
    assert [c.reason for _, c in again.failing] == [conflict.reason], "the file order does not matter"


def test_files_agreeing_about_a_check_are_no_conflict(tmp_path):
    data = results_dict([check("bert", "lora", "a", "failed", "x"), check("bert", "lora", "b", "passed")])
    files = [load_results(dump(tmp_path / f"r{i}.json", data)) for i in range(2)]
    cell = build_table(files, features=TEST_FEATURES).rows[0].cells["lora"]
    assert [(c.outcome, c.reason) for _, c in cell.failing] == [("failed", "x")]
