"""`adapter-conformance certify` as a newcomer meets it (issue 15): it says what it is about to do, refuses unknown
names before it creates or runs anything, and takes names in any case."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_certify import certificate_of, fake_pytest
from test_reports import check, dump, results_dict

from architectures.registry import builtin_names
from conformance import cli
from reports.certificate import build_certificate, render_certificate_markdown
from reports.results import load_results


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
        (["--arch", "nosuch"], "--arch=nosuch: unknown architecture. Valid: all, albert, bart, beit, bert"),
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


# --- what a certificate says about its run ------------------------------------------------------------------

PROVENANCE = {
    "module": "my_arch",
    "source": "my_arch.py",
    "source_sha256": "ab" * 32,
    "layout": {
        "name": "ernie",
        "embeddings": "embeddings.word_embeddings",
        "stacks": [
            {
                "name": "encoder",
                "path": "encoder.layer",
                "self_attention": {"q": "q", "k": "k", "v": "v", "qkv": None, "qkv_layout": "blocked", "output": "o"},
                "ffn_in": "i",
                "ffn_out": "f",
                "norm_position": "post",
                "cross_attention": None,
            }
        ],
    },
}


def test_a_certificate_names_date_spec_source_layout_tree_state_and_passed_checks(tmp_path: Path) -> None:
    checks = [check("bert", "lora", "a", "passed"), check("bert", "lora", "b", "failed", "boom")]
    data = results_dict(checks, dirty=True)
    data["architectures"]["bert"]["provenance"] = PROVENANCE
    c = build_certificate(load_results(dump(tmp_path / "r.json", data)), "bert")
    assert c["spec"] == PROVENANCE
    assert c["dirty"] is True
    assert c["passed_checks"] == [checks[0]["nodeid"]]
    md = render_certificate_markdown(c)
    assert "- date: 2026-11-27T02:00:00Z" in md
    assert "- commit: unknown (working tree had uncommitted changes" in md
    assert f"- spec: `my_arch` (my_arch.py), sha256 {'ab' * 32}" in md
    assert "- layout: `ernie`, embeddings `embeddings.word_embeddings`" in md
    assert "  - encoder `encoder.layer`: q/k/v `q`, `k`, `v`, output `o`, FFN `i` → `f`, post-norm" in md
    assert f"- `{checks[0]['nodeid']}`" in md.split("## Passed checks")[1]
    assert checks[1]["nodeid"] not in md.split("## Passed checks")[1]
    # results of older runs carry no provenance: said, not invented
    plain = render_certificate_markdown(certificate_of(tmp_path, checks))
    assert "- spec: unknown (results from before certificates recorded it)" in plain


@pytest.mark.parametrize(
    ("status", "data", "message"),
    [
        (5, None, "the suite did not run (the selection holds no check: widen --arch, --method, --feature or the -k"),
        (0, results_dict([]), "no conformance check ran (the results name no architecture); no certificate written"),
    ],
    ids=["nothing-collected", "no-conformance-check"],
)
def test_certify_with_nothing_selected_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, status, data, message
) -> None:
    fake_pytest(monkeypatch, status, data)
    out = tmp_path / "certs"
    assert cli.main(["certify", "--arch", "bert", "--out", str(out), "--workers", "0", "--", "-k", "nothing"]) == 2
    assert message in capsys.readouterr().err
    assert not list(out.glob("*.md")), "no certificate"


def test_certify_passes_the_implementation_under_test_to_the_suite(tmp_path: Path, monkeypatch, capsys) -> None:
    calls = fake_pytest(monkeypatch, 0, results_dict([check("bert", "lora", "a", "passed")]))
    module = "conformance.impls.reference"  # a module path, as a third party's implementation is named
    argv = ["certify", "--impl", module, "--arch", "bert", "--out", str(tmp_path / "o"), "--workers", "0"]
    assert cli.main(argv) == 0
    assert f"--impl={module}" in calls[0]
    assert f"certifying 1 architecture (bert) of implementation {module} with every method" in capsys.readouterr().out


def test_certify_refuses_an_implementation_it_cannot_load_before_running(tmp_path: Path, monkeypatch, capsys) -> None:
    calls = fake_pytest(monkeypatch, 0, None)
    out = tmp_path / "certs"
    assert cli.main(["certify", "--impl", "nosuch", "--arch", "bert", "--out", str(out), "--workers", "0"]) == 2
    assert "--impl=nosuch: unknown implementation. Valid: reference, adapters" in capsys.readouterr().err
    assert calls == [] and not out.exists()
