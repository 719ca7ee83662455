"""`python -m reports render` merges fresh results into the committed ones (issue 15): results for one architecture
never drop the others', and the command `render --check` suggests is safe to run."""

from __future__ import annotations

import shlex
from pathlib import Path

from test_reports import check, dump, load_results, results_dict, run_cli


COMMITTED = Path("docs") / "per_version" / "transformers-5.24.0.json"


def _commit_two_architectures(root: Path) -> None:
    both = results_dict(
        [
            check("bert", "lora", "a", "passed"),
            check("gpt2", "lora", "a", "passed"),
            check("gpt2", "ia3", "a", "passed"),
        ]
    )
    dump(root / "results" / "full.json", both)
    assert run_cli(root, "render", "results/full.json").returncode == 0
    (root / "results" / "full.json").unlink()


def test_check_suggests_a_command_that_keeps_the_other_architectures(tmp_path: Path) -> None:
    _commit_two_architectures(tmp_path)
    dump(tmp_path / "results" / "bert.json", results_dict([check("bert", "lora", "a", "failed", "boom")]))
    stale = run_cli(tmp_path, "render", "--check", "results/bert.json")
    assert stale.returncode == 1
    assert "- " not in "".join(line for line in stale.stderr.splitlines() if "gpt2" in line), "gpt2 is not dropped"
    assert "kept 2 committed checks of transformers 5.24.0 that the fresh results did not run (gpt2)" in stale.stderr
    (suggested,) = [line for line in stale.stderr.splitlines() if line.startswith("regenerate with: ")]
    words = shlex.split(suggested.removeprefix("regenerate with: "))
    assert words[:4] == ["python", "-m", "reports", "render"]
    assert run_cli(tmp_path, *words[3:]).returncode == 0
    merged = load_results(tmp_path / COMMITTED)
    assert {(c.arch, c.feature): c.outcome for c in merged.checks} == {
        ("bert", "lora"): "failed",
        ("gpt2", "lora"): "passed",
        ("gpt2", "ia3"): "passed",
    }
    assert sorted(merged.architectures) == ["bert", "gpt2"]
    assert run_cli(tmp_path, "render", "--check", "results/bert.json").returncode == 0


def test_a_group_the_fresh_run_ran_is_replaced_whole(tmp_path: Path) -> None:
    _commit_two_architectures(tmp_path)
    # gpt2's lora group now has another check only: the old one goes, ia3 (not run) stays
    dump(tmp_path / "results" / "gpt2.json", results_dict([check("gpt2", "lora", "b", "passed")]))
    assert run_cli(tmp_path, "render", "results/gpt2.json").returncode == 0
    merged = load_results(tmp_path / COMMITTED)
    # committed files keep passed checks as counts per cell (reports.compact)
    assert sorted((c.arch, c.feature, c.outcome) for c in merged.checks) == [
        ("bert", "lora", "passed"),
        ("gpt2", "ia3", "passed"),
        ("gpt2", "lora", "passed"),
    ]


def test_replace_drops_what_the_fresh_results_do_not_hold(tmp_path: Path) -> None:
    _commit_two_architectures(tmp_path)
    dump(tmp_path / "results" / "bert.json", results_dict([check("bert", "lora", "a", "passed")]))
    stale = run_cli(tmp_path, "render", "--check", "--replace", "results/bert.json")
    assert stale.returncode == 1
    assert "regenerate with: python -m reports render results/bert.json --replace" in stale.stderr
    assert run_cli(tmp_path, "render", "--replace", "results/bert.json").returncode == 0
    assert sorted(load_results(tmp_path / COMMITTED).architectures) == ["bert"]
