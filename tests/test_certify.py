"""Self-tests of certificates and of `adapter-conformance certify`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_reports import REPO, check, dump, results_dict

from conformance import cli
from reports.certificate import build_certificate, render_certificate_markdown
from reports.results import load_results


def certificate_of(tmp_path: Path, checks: list[dict], arch: str = "bert", **kwargs: Any) -> dict:
    return build_certificate(load_results(dump(tmp_path / "r.json", results_dict(checks, **kwargs))), arch)


# --- the certificate ----------------------------------------------------------------------------------------


def test_all_passing_with_declared_gaps_is_certified(tmp_path: Path) -> None:
    c = certificate_of(
        tmp_path,
        [check("bert", "bottleneck", "a", "passed"), check("bert", "lora", "a", "gap", "no LoRA here")],
        gaps={"bert": {"lora": "no LoRA here"}},
        commit="abc1234",
    )
    assert c["certified"] is True
    assert c["versions"] == {
        "transformers": "5.24.0",
        "torch": "2.13.0+cpu",
        "python": "3.11.7",
        "adapter_conformance": "0.1.0",
    }
    assert c["commit"] == "abc1234"
    assert c["features"]["bottleneck"] | {} == {
        "title": "(Bottleneck) Adapters",
        "status": "passed",
        "reason": None,
        "passed": 1,
        "ran": 1,
        "gap": 0,
    }
    assert c["features"]["lora"]["status"] == "gap"
    assert c["declared_gaps"] == [{"feature": "lora", "reason": "no LoRA here", "skipped_checks": 1}]
    assert c["totals"] == {"passed": 1, "failed": 0, "error": 0, "skipped": 0, "gap": 1, "n/a": 0, "ran": 1}
    assert c["failing_checks"] == []
    md = render_certificate_markdown(c)
    assert "**CERTIFIED**: 1 of 1 checks passed, 1 skipped as declared gaps." in md
    assert "- lora: no LoRA here (1 check skipped)" in md
    assert "| lora | gap (no LoRA here) |  |" in md
    assert "- date: 2026-11-27T02:00:00Z" in md


def test_gaps_carried_by_checks_are_listed_too(tmp_path: Path) -> None:
    """A gap declared for one head class (not in the spec's gaps) still shows, with its reason."""
    reason = "BertForPreTraining predicts two tasks at once"
    c = certificate_of(
        tmp_path,
        [check("bert", "class_conversion", "a", "passed"), check("bert", "class_conversion", "b", "gap", reason)],
    )
    assert c["certified"] is True
    assert c["declared_gaps"] == [{"feature": "class_conversion", "reason": reason, "skipped_checks": 1}]
    md = render_certificate_markdown(c)
    assert "| class_conversion | ✅ | 1/1 (+1 declared gap) |" in md
    assert f"- class_conversion: {reason} (1 check skipped)" in md


@pytest.mark.parametrize("outcome", ["failed", "error", "skipped"])
def test_any_non_gap_check_not_passing_voids_the_certificate(tmp_path: Path, outcome: str) -> None:
    bad = check("bert", "lora", "b", outcome, "boom")
    c = certificate_of(tmp_path, [check("bert", "lora", "a", "passed"), bad])
    assert c["certified"] is False
    assert c["features"]["lora"]["status"] == "failed"
    assert c["failing_checks"] == [
        {"feature": "lora", "method": "lora", "nodeid": bad["nodeid"], "outcome": outcome, "reason": "boom"}
    ]
    md = render_certificate_markdown(c)
    assert "**NOT CERTIFIED**: 1 of 2 checks passed, 1 not passing." in md
    assert f"- `{bad['nodeid']}`: {outcome}: boom" in md


def test_only_gaps_is_not_certified(tmp_path: Path) -> None:
    c = certificate_of(tmp_path, [check("bert", "lora", "a", "gap", "why")], gaps={"bert": {"lora": "why"}})
    assert c["certified"] is False
    assert "No check ran: nothing is certified." in render_certificate_markdown(c)


def test_not_applicable_checks_neither_certify_nor_void(tmp_path: Path) -> None:
    only = certificate_of(tmp_path, [check("bert", "fusion", "a", "n/a", "lora takes no part in Fuse")])
    assert only["certified"] is False and only["totals"]["ran"] == 0
    mixed = certificate_of(
        tmp_path, [check("bert", "lora", "a", "passed"), check("bert", "fusion", "b", "n/a", "not in Fuse")]
    )
    assert mixed["certified"] is True and mixed["failing_checks"] == []
    assert mixed["features"]["fusion"]["status"] == "not_applicable"
    text = render_certificate_markdown(mixed)
    assert "1 not applicable" in text and "| fusion | n/a (not in Fuse) |" in text


def test_certificate_covers_only_its_architecture(tmp_path: Path) -> None:
    c = certificate_of(tmp_path, [check("bert", "lora", "a", "passed"), check("gpt2", "lora", "a", "failed")])
    assert c["certified"] is True
    with pytest.raises(ValueError, match="no results for architecture 'vit'; it has: bert"):
        certificate_of(tmp_path, [check("bert", "lora", "a", "passed")], arch="vit")


# --- the command, with the pytest run replaced --------------------------------------------------------------


def fake_pytest(monkeypatch: pytest.MonkeyPatch, status: int, data: dict | None) -> list[list[str]]:
    """Replace the pytest subprocess: write `data` where --results points, return `status`."""
    calls: list[list[str]] = []

    def run(command: list[str], check: bool = False) -> subprocess.CompletedProcess:
        calls.append(command)
        if data is not None:
            (path,) = [arg.split("=", 1)[1] for arg in command if arg.startswith("--results=")]
            dump(Path(path), data)
        return subprocess.CompletedProcess(command, status)

    monkeypatch.setattr(cli.subprocess, "run", run)
    return calls


def test_certify_writes_a_certificate_per_architecture_and_exit_0_only_if_all_certified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "certs"
    data = results_dict([check("bert", "lora", "a", "passed"), check("gpt2", "lora", "a", "failed", "boom")])
    calls = fake_pytest(monkeypatch, 1, data)
    assert cli.main(["certify", "--arch", "bert,gpt2", "--out", str(out), "--workers", "0"]) == 1
    assert calls[0][:6] == [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p"]
    assert "--arch=bert,gpt2" in calls[0]
    assert "-n" not in calls[0]
    assert sorted(p.name for p in out.iterdir()) == ["bert.json", "bert.md", "gpt2.json", "gpt2.md", "results.json"]
    assert json.loads((out / "bert.json").read_text())["certified"] is True
    assert json.loads((out / "gpt2.json").read_text())["certified"] is False
    printed = capsys.readouterr().out
    assert "bert: certified: 1/1 checks passed" in printed
    assert "gpt2: NOT certified: 0/1 checks passed, 1 not passing" in printed

    fake_pytest(monkeypatch, 0, results_dict([check("bert", "lora", "a", "passed")]))
    assert cli.main(["certify", "--arch", "bert", "--out", str(out), "--workers", "0"]) == 0


def test_certify_never_reads_an_old_results_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "certs"
    dump(out / "results.json", results_dict([check("bert", "lora", "a", "passed")]))
    fake_pytest(monkeypatch, 4, None)  # a usage error: pytest wrote nothing
    assert cli.main(["certify", "--arch", "bert", "--out", str(out), "--workers", "0"]) == 2
    assert sorted(p.name for p in out.iterdir()) == []


def test_certify_passes_workers_selection_and_extra_pytest_args(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(
        ["certify", "--arch", "deberta", "--method", "lora", "--feature", "lora", "-n", "3", "--", "-x", "-k", "merge"]
    )
    command = cli.pytest_command(args, tmp_path / "r.json")
    assert command[command.index("--arch=deberta") :] == [
        "--arch=deberta",
        "--method=lora",
        "--feature=lora",
        f"--results={tmp_path / 'r.json'}",
        "-q",
        "-n",
        "3",
        "--dist=loadgroup",
        "-x",
        "-k",
        "merge",
    ]
    default = cli.pytest_command(cli.build_parser().parse_args(["certify"]), tmp_path / "r.json")
    assert "--arch=all" in default


def test_console_script_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")  # python >= 3.11
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"adapter-conformance": "conformance.cli:main"}


# --- the real thing -----------------------------------------------------------------------------------------


def test_certify_one_architecture_end_to_end_outside_the_repository(tmp_path: Path) -> None:
    """A real pytest run of the suite from another directory; the exit status agrees with the certificate."""
    command = [sys.executable, "-m", "conformance.cli", "certify", "--arch=bert", "--method=lora", "--out", "certs"]
    # No xdist; a few forward checks keep this quick (what follows `--` goes to pytest).
    command += ["-n", "0", "--", "-k", "TestForward"]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout[-2000:] + result.stderr[-2000:]
    certificate = json.loads((tmp_path / "certs" / "bert.json").read_text(encoding="utf-8"))
    results = load_results(tmp_path / "certs" / "results.json")
    assert sorted(results.architectures) == ["bert"]
    assert results.selection["methods"] == ["lora"]
    assert all("TestForward" in c.nodeid for c in results.checks), output
    assert certificate["totals"]["ran"] + certificate["totals"]["gap"] == len(results.checks) > 0
    assert result.returncode == (0 if certificate["certified"] else 1), output
    md = (tmp_path / "certs" / "bert.md").read_text(encoding="utf-8")
    assert md.startswith("# Adapter conformance certificate: bert")
