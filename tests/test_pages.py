"""Per-architecture pages (`python -m reports render` writes docs/architectures/<arch>.md beside the table, issue 14),
training-parity reports in pages and certificates, and shipped specs read as data (no torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_reports import REPO, check, dump, load_results, results_dict, run_cli

from reports.certificate import attach_parity, build_certificate, render_certificate_markdown
from reports.parity import FULL, render_parity_table


def _parity(arch: str = "bert") -> dict:
    run = {"trainable_share": 1.0, "step_seconds": 0.1, "losses": [0.7] * 5 + [0.1] * 10, "error": None}
    return {
        "arch": arch,
        "modality": "text_encoder",
        "impl": "reference",
        "steps": 15,
        "batch": 16,
        "versions": {"torch": "2.13.0", "transformers": "5.24.0"},
        "date": "2026-12-01",
        "runs": [
            {**run, "method": FULL, "accuracy": 0.8},
            {**run, "method": "lora", "accuracy": 0.6, "trainable_share": 0.15, "step_seconds": 0.2},
            {**run, "method": "ia3", "accuracy": float("nan"), "error": "RuntimeError: boom"},
        ],
    }


def _conversion(class_name: str, outcome: str, reason: str = "") -> dict:
    return {
        **check("bert", "class_conversion", "test_static_to_flex_to_static", outcome, reason),
        "nodeid": f"conformance/suite/test_conformance.py::T::test_static_to_flex_to_static[bert-{class_name}]",
    }


def _project(root: Path) -> None:
    gap = "no cross-attention here by design"
    checks = [
        check("bert", "lora", "a", "passed"),
        check("bert", "bottleneck", "a", "failed", "outputs differ by 0.5"),
        check("bert", "fusion", "a", "gap", gap),
        _conversion("BertForMaskedLM", "passed"),
        _conversion("BertForPreTraining", "gap", "no flexible head for pre-training"),
    ]
    dump(root / "results" / "r.json", results_dict(checks, gaps={"bert": {"fusion": gap}}))
    parity = root / "docs" / "parity"
    parity.mkdir(parents=True)
    (parity / "bert.parity.json").write_text(json.dumps(_parity()), encoding="utf-8")
    (parity / "bert.parity.png").write_bytes(b"\x89PNG")


def test_render_writes_a_page_per_architecture_linked_from_the_table(tmp_path: Path) -> None:
    _project(tmp_path)
    result = run_cli(tmp_path, "render", "results/r.json")
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "docs" / "model_overview.md").read_text(encoding="utf-8")
    assert "| [bert](architectures/bert.md) |" in table
    page = (tmp_path / "docs" / "architectures" / "bert.md").read_text(encoding="utf-8")
    assert "[model table](../model_overview.md)" in page
    assert "| LoRA | ✅ | 1 / 1 |" in page  # per feature and version, with the checks behind
    assert "| (Bottleneck) Adapters | ❌ | 0 / 1 |" in page
    assert "- **fusion**: no cross-attention here by design" in page  # a declared gap with its reason
    assert "outputs differ by 0.5" in page  # what does not pass, and why
    assert "certified on transformers: **none**" in page
    # from the shipped spec, read as data: where adapters sit, and every head class with its flexible head
    assert "| self-attention q/k/v | `attention.self.query`, `attention.self.key`, `attention.self.value` |" in page
    assert "| `BertForMaskedLM` | `masked_lm`, activation config:hidden_act | ✅ |" in page
    assert "| `BertForPreTraining` | none: " in page  # a head-class gap of the spec, with its reason
    # only the classes the results checked: the installed transformers may have others (BertForNextSentence...)
    assert "BertForNextSentencePrediction" not in page
    # the training-parity report beside it
    assert "## Training parity" in page and "| lora | 0.600 | 0.75 | 15.00% | 2.00x | 0.100 |" in page
    assert "| ia3 | error: RuntimeError: boom |" in page
    assert "![bert: training loss per method](../parity/bert.parity.png)" in page
    assert run_cli(tmp_path, "render", "--check", "results/r.json").returncode == 0


def test_check_fails_on_a_stale_or_missing_page(tmp_path: Path) -> None:
    _project(tmp_path)
    assert run_cli(tmp_path, "render", "results/r.json").returncode == 0
    page = tmp_path / "docs" / "architectures" / "bert.md"
    page.write_text(page.read_text(encoding="utf-8").replace("✅", "❌"), encoding="utf-8")
    stale = run_cli(tmp_path, "render", "--check", "results/r.json")
    assert stale.returncode == 1 and "bert.md is out of date" in stale.stderr
    page.unlink()
    missing = run_cli(tmp_path, "render", "--check", "results/r.json")
    assert missing.returncode == 1 and "bert.md is missing" in missing.stderr


def test_no_pages_renders_the_table_alone(tmp_path: Path) -> None:
    _project(tmp_path)
    assert run_cli(tmp_path, "render", "--no-pages", "results/r.json").returncode == 0
    assert "| bert |" in (tmp_path / "docs" / "model_overview.md").read_text(encoding="utf-8")
    assert not (tmp_path / "docs" / "architectures").exists()


def test_an_architecture_the_package_does_not_ship_gets_a_page_from_its_results(tmp_path: Path) -> None:
    dump(tmp_path / "results" / "r.json", results_dict([check("mine", "lora", "a", "passed")]))
    assert run_cli(tmp_path, "render", "results/r.json").returncode == 0
    page = (tmp_path / "docs" / "architectures" / "mine.md").read_text(encoding="utf-8")
    assert "certified on transformers: **5.24.0**" in page
    assert "Where adapters sit" not in page and "Training parity" not in page


def test_reading_a_spec_as_data_builds_no_model_and_registers_nothing() -> None:
    code = (
        "import sys\n"
        "from architectures import registry\n"
        "spec = registry.read_builtin('t5')\n"
        "assert spec.name == 't5' and [s.name for s in spec.layouts[0].stacks] == ['encoder', 'decoder']\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "assert not registry._REGISTRY and 'architectures.t5' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_parity_table_is_relative_to_full_fine_tuning() -> None:
    table = render_parity_table(_parity())
    assert "| full fine-tuning | 0.800 | 1.00 | 100.00% | 1.00x | 0.100 |" in table
    assert "| lora | 0.600 | 0.75 | 15.00% | 2.00x | 0.100 |" in table


def test_a_certificate_shows_the_parity_report_of_its_folder(tmp_path: Path) -> None:
    results = load_results(dump(tmp_path / "results.json", results_dict([check("bert", "lora", "a", "passed")])))
    certificate = build_certificate(results, "bert")
    assert not attach_parity(certificate, tmp_path)  # none there: nothing added
    assert "Training parity" not in render_certificate_markdown(certificate)
    (tmp_path / "bert.parity.json").write_text(json.dumps(_parity()), encoding="utf-8")
    (tmp_path / "bert.parity.png").write_bytes(b"\x89PNG")
    assert attach_parity(certificate, tmp_path)
    assert certificate["certified"] and certificate["training_parity"]["plot"] == "bert.parity.png"
    assert len(certificate["training_parity"]["runs"][0]["losses"]) == 10  # the curves stay in the PNG
    markdown = render_certificate_markdown(certificate)
    assert "## Training parity" in markdown and "not part of it" in markdown
    assert "| lora | 0.600 | 0.75 | 15.00% | 2.00x | 0.100 |" in markdown
    assert "![bert: training loss per method](bert.parity.png)" in markdown


def test_the_summary_lists_every_report_of_the_folder_by_absolute_accuracy(tmp_path: Path) -> None:
    from reports.parity import write_summary

    assert write_summary(tmp_path) is None  # no report: no summary
    (tmp_path / "bert.parity.json").write_text(json.dumps(_parity("bert")), encoding="utf-8")
    vit = _parity("vit")
    vit["runs"] = vit["runs"][:1]
    (tmp_path / "vit.parity.json").write_text(json.dumps(vit), encoding="utf-8")
    summary = write_summary(tmp_path).read_text(encoding="utf-8")
    assert "| method | bert | vit |" in summary
    assert "| full fine-tuning | 0.800 | 0.800 |" in summary
    assert "| lora | 0.600 |  |" in summary  # not run on vit: blank
    assert "| ia3 | error |  |" in summary
