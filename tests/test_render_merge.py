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


# --- one implementation's results never land in another's table (issue 10) ---------------------------------------


def test_another_implementation_renders_into_its_own_files(tmp_path: Path) -> None:
    _commit_two_architectures(tmp_path)
    committed = {p: p.read_bytes() for p in (tmp_path / "docs").rglob("*") if p.is_file()}
    adapters = results_dict([check("bert", "lora", "a", "failed", "boom")], impl="adapters")
    dump(tmp_path / "results" / "adapters.json", adapters)
    rendered = run_cli(tmp_path, "render", "results/adapters.json")
    assert rendered.returncode == 0, rendered.stderr
    assert {p: p.read_bytes() for p in committed} == committed, "the reference's files are untouched"
    own = load_results(tmp_path / "docs" / "adapters" / "per_version" / "transformers-5.24.0.json")
    assert own.impl == "adapters"
    assert [(c.arch, c.outcome) for c in own.checks] == [("bert", "failed")]
    table = (tmp_path / "docs" / "adapters" / "model_overview.md").read_text(encoding="utf-8")
    assert "Implementation under test: `adapters`" in table and "`docs/adapters/per_version/`" in table
    assert run_cli(tmp_path, "render", "--check", "results/adapters.json").returncode == 0


def test_results_never_merge_into_another_implementations_baseline(tmp_path: Path) -> None:
    _commit_two_architectures(tmp_path)
    before = (tmp_path / COMMITTED).read_bytes()
    dump(tmp_path / "results" / "adapters.json", results_dict([check("bert", "lora", "a", "failed")], impl="adapters"))
    refused = run_cli(tmp_path, "render", "results/adapters.json", "--baseline", "docs/per_version")
    assert refused.returncode == 2
    assert "holds results of implementation 'reference', the given results certify 'adapters'" in refused.stderr
    assert (tmp_path / COMMITTED).read_bytes() == before


def test_results_stamped_before_impl_existed_are_the_reference(tmp_path: Path) -> None:
    _commit_two_architectures(tmp_path)
    legacy = results_dict([check("bert", "lora", "a", "failed", "boom")], impl="reference_impl")
    dump(tmp_path / "results" / "bert.json", legacy)
    assert run_cli(tmp_path, "render", "results/bert.json").returncode == 0
    assert load_results(tmp_path / COMMITTED).impl == "reference"
