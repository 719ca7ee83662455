"""`adapter-conformance certify` as a newcomer meets it (issue 15): it says what it is about to do, refuses unknown
names before it creates or runs anything, and takes names in any case."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_certify import fake_pytest
from test_reports import check, results_dict

from architectures.registry import builtin_names
from conformance import cli


def test_certify_without_arguments_says_what_it_certifies_with_a_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    calls = fake_pytest(monkeypatch, 0, results_dict([check("bert", "lora", "a", "passed")]))
    assert cli.main(["certify", "--workers", "0"]) == 0
    names = builtin_names()
    printed = capsys.readouterr().out
    assert (
        f"certifying all {len(names)} registered architectures ({', '.join(names)}) with every method into "
        "certificates/; pass --arch NAME to certify one"
    ) in printed
    assert "--arch=all" in calls[0]
    assert (tmp_path / "certificates" / "bert.md").is_file()


def test_certify_names_the_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    fake_pytest(monkeypatch, 0, results_dict([check("bert", "lora", "a", "passed")]))
    out = tmp_path / "c"
    assert cli.main(["certify", "--arch", "bert", "--method", "LoRA", "--out", str(out), "--workers", "0"]) == 0
    assert f"certifying 1 architecture (bert) with LoRA into {out}/\n" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "nosuch"], "--arch=nosuch: unknown architecture. Valid: all, bert"),
        (["--arch", "bert,nosuch.module"], "--arch=nosuch.module: unknown architecture"),
        (["--arch", "./nope.py"], "--arch=./nope.py: no such spec file"),
        (["--method", "lorax"], "--method=lorax: unknown method. Valid: seq_bn"),
        (["--feature", "nope"], "--feature=nope: unknown feature. Valid: bottleneck"),
    ],
    ids=["arch", "module", "file", "method", "feature"],
)
def test_certify_refuses_unknown_names_before_creating_or_running_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, args, message
) -> None:
    calls = fake_pytest(monkeypatch, 0, None)
    out = tmp_path / "certs"
    assert cli.main(["certify", *args, "--out", str(out), "--workers", "0"]) == 2
    assert message in capsys.readouterr().err
    assert calls == [], "pytest never ran"
    assert not out.exists(), "no output folder for a run that did not happen"


def test_certify_accepts_method_and_feature_names_in_any_case(tmp_path: Path, monkeypatch) -> None:
    calls = fake_pytest(monkeypatch, 0, results_dict([check("bert", "lora", "a", "passed")]))
    argv = ["certify", "--arch", "BERT", "--method", "LoRA", "--feature", "LORA", "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--workers", "0"]) == 0
    assert {"--arch=BERT", "--method=LoRA", "--feature=LORA"} <= set(calls[0])


def test_a_suite_that_did_not_run_leaves_no_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pytest(monkeypatch, 4, None)  # a usage error found by pytest itself
    out = tmp_path / "certs"
    assert cli.main(["certify", "--arch", "bert", "--out", str(out), "--workers", "0"]) == 2
    assert not out.exists()
