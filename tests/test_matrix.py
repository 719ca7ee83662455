"""Self-tests of the nightly matrix (`python -m reports matrix`): merging versions, the markdown view, changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_reports import check, dump, results_dict, run_cli

from architectures.features import feature
from reports.cells import FAILED, GAP, NOT_RUN, PASSED
from reports.changes import compare, pair_versions, render_changes
from reports.matrix import build_matrix, differing_cells, load_matrix, render_matrix_markdown
from reports.results import load_results


FEATURES = (feature("bottleneck"), feature("lora"))


def matrix_of(tmp_path: Path, *datas: dict) -> dict:
    files = [load_results(dump(tmp_path / f"r{i}.json", d)) for i, d in enumerate(datas)]
    return build_matrix(files, features=FEATURES)


def arch_of(matrix: dict, name: str) -> dict:
    (arch,) = [a for a in matrix["architectures"] if a["name"] == name]
    return arch


def nightly(tmp_path: Path, lora_on_latest: str = "passed", latest: str = "5.24.0") -> dict:
    """Three versions: bert passes everywhere except (optionally) lora on the newest; gpt2 declares lora a gap."""
    datas = []
    for version in ("4.57.6", "5.0.0", latest):
        lora = lora_on_latest if version == latest else "passed"
        checks = [
            check("bert", "bottleneck", "a", "passed"),
            check("bert", "lora", "a", lora, "boom" if lora != "passed" else ""),
            check("gpt2", "bottleneck", "a", "passed"),
            check("gpt2", "lora", "a", "gap", "Conv1D"),
        ]
        datas.append(results_dict(checks, gaps={"gpt2": {"lora": "Conv1D"}}, transformers=version))
    return matrix_of(tmp_path, *datas)


# --- the matrix ---------------------------------------------------------------------------------------------


def test_matrix_has_a_cell_per_architecture_feature_and_version(tmp_path: Path) -> None:
    matrix = nightly(tmp_path / "n", lora_on_latest="failed")
    assert matrix["transformers_versions"] == ["4.57.6", "5.0.0", "5.24.0"]
    bert = arch_of(matrix, "bert")
    assert {v: c["status"] for v, c in bert["cells"]["lora"].items()} == {
        "4.57.6": PASSED,
        "5.0.0": PASSED,
        "5.24.0": FAILED,
    }
    failing = bert["cells"]["lora"]["5.24.0"]
    assert failing["counts"]["failed"] == 1
    assert [(c["nodeid"], c["outcome"], c["reason"]) for c in failing["checks"]] == [
        (check("bert", "lora", "a", "failed")["nodeid"], "failed", "boom")
    ]
    gpt2 = arch_of(matrix, "gpt2")
    assert {c["status"] for c in gpt2["cells"]["lora"].values()} == {GAP}
    assert gpt2["cells"]["lora"]["5.0.0"]["reason"] == "Conv1D"
    assert gpt2["gaps"] == {"lora": "Conv1D"}
    assert matrix["runs"]["5.0.0"]["date"] == "2026-11-27T02:00:00Z"  # stamps are kept, for people


def test_differing_cells_are_exactly_those_not_equal_on_every_version(tmp_path: Path) -> None:
    matrix = nightly(tmp_path / "n", lora_on_latest="failed")
    assert differing_cells(matrix) == [("bert", "lora", [PASSED, PASSED, FAILED])]
    assert differing_cells(nightly(tmp_path / "ok")) == []


def test_architecture_missing_on_a_version_is_not_run_there(tmp_path: Path) -> None:
    old = results_dict([check("bert", "lora", "a", "passed")], transformers="4.57.6")
    new = results_dict([check("bert", "lora", "a", "passed"), check("vit", "lora", "a", "passed")])
    matrix = matrix_of(tmp_path, old, new)
    assert arch_of(matrix, "vit")["transformers_versions"] == ["5.24.0"]
    assert ("vit", "lora", [NOT_RUN, PASSED]) in differing_cells(matrix)


def test_markdown_marks_once_when_versions_agree_and_per_version_when_not(tmp_path: Path) -> None:
    md = render_matrix_markdown(nightly(tmp_path, lora_on_latest="failed"))
    table = [line for line in md.splitlines() if line.startswith("| bert |")]
    assert table[0] == "| bert | ✅ | ✅ ✅ ❌ |"
    assert "| gpt2 | ✅ | gap |" in md
    assert "one mark per version in the order 4.57.6 · 5.0.0 · 5.24.0" in md
    assert "| bert | lora | ✅ | ✅ | ❌ |" in md  # the section of cells that differ
    assert "- **bert × lora** on transformers 5.24.0: 1 not passing\n  - `Test::a[bert-lora]` (failed: boom)" in md
    assert "- gpt2 × lora: Conv1D" in md
    for volatile in ("2026-11-27", "0.25", "3.11.7", "2.13.0", str(tmp_path)):
        assert volatile not in md


def test_load_matrix_round_trip_and_refusals(tmp_path: Path) -> None:
    matrix = nightly(tmp_path / "n")
    path = dump(tmp_path / "m.json", matrix)
    assert load_matrix(path) == matrix
    results = dump(tmp_path / "results.json", results_dict([check("bert", "lora", "a", "passed")]))
    with pytest.raises(ValueError, match="is not a matrix"):
        load_matrix(results)
    matrix["architectures"][0]["cells"]["lora"]["5.0.0"]["status"] = "ok"
    with pytest.raises(ValueError, match=r"bert\)\.cells\.lora\.5\.0\.0: status 'ok'"):
        load_matrix(dump(tmp_path / "bad.json", matrix))


# --- changes ------------------------------------------------------------------------------------------------


def test_regression_is_listed_first_with_the_failing_check(tmp_path: Path) -> None:
    before, after = nightly(tmp_path / "a"), nightly(tmp_path / "b", lora_on_latest="failed")
    changes = compare(before, after)
    assert [(c.arch, c.feature, c.version, c.before, c.after) for c in changes.regressions] == [
        ("bert", "lora", "5.24.0", PASSED, FAILED)
    ]
    assert (changes.fixes, changes.newly_supported, changes.other) == ((), (), ())
    text = render_changes(changes)
    assert "## Regressions (was ✅, now ❌): 1" in text
    assert "bert × lora on transformers 5.24.0: ✅ → ❌ (`" in text
    assert "(failed: boom)" in text
    # The way back is a fix.
    back = compare(after, before)
    assert [(c.arch, c.before, c.after) for c in back.fixes] == [("bert", FAILED, PASSED)]
    assert back.regressions == ()


def test_sections_in_order_and_kinds(tmp_path: Path) -> None:
    before = matrix_of(
        tmp_path / "a",
        results_dict(
            [
                check("bert", "lora", "a", "passed"),
                check("bert", "bottleneck", "a", "failed"),
                check("gpt2", "lora", "a", "gap", "Conv1D"),
                check("t5", "lora", "a", "passed"),
            ],
            gaps={"gpt2": {"lora": "Conv1D"}},
        ),
    )
    after = matrix_of(
        tmp_path / "b",
        results_dict(
            [
                check("bert", "lora", "a", "failed"),  # regression
                check("bert", "bottleneck", "a", "passed"),  # fix
                check("gpt2", "lora", "a", "passed"),  # newly supported
                check("gpt2", "bottleneck", "a", "skipped", "why"),  # other: not run -> failed
                check("vit", "lora", "a", "passed"),  # new architecture (t5 removed)
            ]
        ),
    )
    changes = compare(before, after)
    assert [(c.arch, c.feature) for c in changes.regressions] == [("bert", "lora")]
    assert [(c.arch, c.feature) for c in changes.fixes] == [("bert", "bottleneck")]
    assert [(c.arch, c.feature) for c in changes.newly_supported] == [("gpt2", "lora")]
    assert [(c.arch, c.feature, c.before, c.after) for c in changes.other] == [("gpt2", "bottleneck", NOT_RUN, FAILED)]
    assert (changes.new_architectures, changes.removed_architectures) == (("vit",), ("t5",))
    text = render_changes(changes)
    order = ["## Regressions", "## Fixes", "## Newly supported", "## Other", "## New architectures", "## Removed"]
    positions = [text.index(title) for title in order]
    assert positions == sorted(positions)


def test_no_changes_still_says_there_is_no_regression(tmp_path: Path) -> None:
    text = render_changes(compare(nightly(tmp_path / "a"), nightly(tmp_path / "b")))
    assert "## Regressions (was ✅, now ❌): 0" in text
    assert "Nothing else changed." in text


def test_newest_version_moving_on_is_compared_as_one_lane(tmp_path: Path) -> None:
    before = nightly(tmp_path / "a")
    after = nightly(tmp_path / "b", lora_on_latest="failed", latest="5.25.0")
    changes = compare(before, after)
    assert changes.lanes == (("4.57.6", "4.57.6"), ("5.0.0", "5.0.0"), ("5.24.0", "5.25.0"))
    assert (changes.new_versions, changes.removed_versions) == ((), ())
    (regression,) = changes.regressions
    assert regression.where == "bert × lora on transformers 5.25.0 (was 5.24.0)"
    assert "Transformers versions compared: 4.57.6, 5.0.0, 5.24.0 → 5.25.0." in render_changes(changes)


@pytest.mark.parametrize(
    ("previous", "current", "pairs", "new", "gone"),
    [
        (["4.57.6", "5.24.0"], ["4.57.6", "5.24.0"], [("4.57.6", "4.57.6"), ("5.24.0", "5.24.0")], [], []),
        (["4.57.6", "5.24.0"], ["4.57.6", "5.25.0"], [("4.57.6", "4.57.6"), ("5.24.0", "5.25.0")], [], []),
        # 5.0.0 did not run tonight; the newest moved on: only the newest pair up.
        (["5.0.0", "5.24.0"], ["5.25.0"], [("5.24.0", "5.25.0")], [], ["5.0.0"]),
        # A new major version is a new lane, not the old one moving on.
        (["4.57.6"], ["6.0.0"], [], ["6.0.0"], ["4.57.6"]),
        # Never compare against an older version that came later.
        (["5.24.0"], ["5.23.0"], [], ["5.23.0"], ["5.24.0"]),
    ],
)
def test_pair_versions(previous: list, current: list, pairs: list, new: list, gone: list) -> None:
    assert pair_versions(previous, current) == (pairs, new, gone)


def test_different_implementations_are_not_compared(tmp_path: Path) -> None:
    a = matrix_of(tmp_path / "a", results_dict([check("bert", "lora", "a", "passed")]))
    b = matrix_of(tmp_path / "b", results_dict([check("bert", "lora", "a", "passed")], impl="adapters"))
    with pytest.raises(ValueError, match="certifies 'reference'"):
        compare(a, b)


# --- CLI ----------------------------------------------------------------------------------------------------


def write_env(root: Path, env: str, version: str, lora: str = "passed") -> None:
    checks = [
        check("bert", "bottleneck", "a", "passed"),
        check("bert", "lora", "a", lora, "boom" * (lora != "passed")),
    ]
    dump(root / "results" / env / "results.json", results_dict(checks, transformers=version))


def test_cli_matrix_writes_every_view_and_exits_1_on_regression(tmp_path: Path) -> None:
    write_env(tmp_path, "tf457", "4.57.6")
    write_env(tmp_path, "tflatest", "5.24.0")
    envs = ["results/tf457", "results/tf50", "results/tflatest"]  # tf50 did not run
    first = run_cli(tmp_path, "matrix", *envs, "--previous", "results/matrix/matrix.json")
    assert first.returncode == 0, first.stderr
    assert "results/tf50 does not exist" in first.stderr
    assert "no previous matrix at results/matrix/matrix.json: nothing compared" in first.stdout
    out = tmp_path / "results" / "matrix"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "matrix.json", "matrix.md"]
    assert load_matrix(out / "matrix.json")["transformers_versions"] == ["4.57.6", "5.24.0"]
    md = (out / "matrix.md").read_bytes()

    # Same results again: no change, exit 0, and byte-identical views.
    again = run_cli(tmp_path, "matrix", *envs, "--previous", "results/matrix/matrix.json")
    assert again.returncode == 0, again.stderr
    assert (out / "matrix.md").read_bytes() == md
    assert "## Regressions (was ✅, now ❌): 0" in (out / "changes.md").read_text(encoding="utf-8")

    # LoRA breaks on the newest version: exit 1, the regression heads changes.md and stdout.
    write_env(tmp_path, "tflatest", "5.24.0", lora="failed")
    broken = run_cli(tmp_path, "matrix", *envs, "--previous", "results/matrix/matrix.json")
    assert broken.returncode == 1
    assert "1 regression(s)" in broken.stderr
    changes = (out / "changes.md").read_text(encoding="utf-8")
    assert changes.index("## Regressions (was ✅, now ❌): 1") < changes.index("bert × lora on transformers 5.24.0")
    assert "bert × lora on transformers 5.24.0: ✅ → ❌" in broken.stdout
    assert json.loads((out / "changes.json").read_text())["regressions"][0]["arch"] == "bert"

    # Without --previous, no stale changes file is left behind.
    plain = run_cli(tmp_path, "matrix", *envs)
    assert plain.returncode == 0
    assert not (out / "changes.md").exists()


def test_cli_matrix_errors(tmp_path: Path) -> None:
    nothing = run_cli(tmp_path, "matrix", "results/tf457")
    assert nothing.returncode == 2
    assert "no result files" in nothing.stderr
    write_env(tmp_path, "tf457", "4.57.6")
    dump(tmp_path / "prev.json", {"not": "a matrix"})
    bad_previous = run_cli(tmp_path, "matrix", "results/tf457", "--previous", "prev.json")
    assert bad_previous.returncode == 2
    assert "prev.json is not a matrix" in bad_previous.stderr
    assert "Traceback" not in bad_previous.stderr
