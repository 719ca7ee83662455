"""`docs/adapters/claims.md`: AdapterHub's published table against the measured cells, claim by claim."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reports.claims import PUBLISHED, parse_published, render_claims
from tests.test_reports import check, results_dict, table_of


REPO = Path(__file__).resolve().parents[1]

PUBLISHED_TABLE = """\
| Model | (Bottleneck)<br> Adapters | LoRA |
| - | - | - |
| [Custom models](plugin_interface.html)<sup>◊</sup> | ✅ | ✅ |
| [BERT](classes/models/bert.html) | ✅ | ✅ |
| [GPT-2](classes/models/gpt2.html) | ✅ | |
| [T5](classes/models/t5.html) | ✅ | ✅ |
"""


def test_each_claim_is_confirmed_contradicted_a_gap_or_not_measured(tmp_path: Path) -> None:
    checks = [
        check("bert", "bottleneck", "test_a", "passed"),
        check("bert", "lora", "test_b", "failed"),
        check("gpt2", "bottleneck", "test_c", "gap", reason="AdapterHub undoes a merge by design"),
        check("gpt2", "lora", "test_d", "passed"),
    ]
    table = table_of(tmp_path, results_dict(checks, impl="adapters"))
    text = render_claims(table, PUBLISHED_TABLE)
    table_lines = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Arch")]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table_lines}
    assert rows["bert"] == ["✅", "❌"]
    assert rows["gpt2"] == ["gap", "➕"]  # a pass without a claim is said, not hidden
    assert rows["t5"] == ["·", "·"]  # not run: neither confirmed nor contradicted
    assert "Custom models" not in text  # no architecture behind it
    assert "**bert / lora**: `Test::test_b[bert-lora]`; reproduce: `pytest --impl=adapters --arch=bert" in text
    assert "**gpt2 / bottleneck**: AdapterHub undoes a merge by design" in text
    assert "- ❌ contradicted: 1 claims" in text and "- ✅ confirmed: 1 claims" in text


def test_an_unknown_published_row_or_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="'Falcon' is not mapped"):
        parse_published(
            PUBLISHED_TABLE + "| Falcon | ✅ | ✅ |\n", {"(Bottleneck) Adapters": "bottleneck", "LoRA": "lora"}
        )
    with pytest.raises(ValueError, match="has no column of ours"):
        parse_published(PUBLISHED_TABLE, {"LoRA": "lora"})


def test_the_committed_published_table_parses_into_every_mapped_architecture() -> None:
    from architectures.features import FEATURES
    from reports.claims import _label

    text = (REPO / PUBLISHED).read_text(encoding="utf-8")
    features, claims = parse_published(text, {_label(f.title): f.name for f in FEATURES})
    assert len(features) == 9
    assert {c.arch for c in claims} >= {"bert", "qwen2", "qwen3", "clip", "encoder_decoder", "xmod"}
    assert sum(c.claimed for c in claims) == 236  # every ✅ and (*) of the 30 architecture rows (Qwen's row twice)


def test_render_writes_claims_only_for_adapterhub_results(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    results.write_text(json.dumps(results_dict([check("bert", "lora", "test_b", "passed")], impl="adapters")))
    out = tmp_path / "adapters" / "model_overview.md"
    command = [sys.executable, "-m", "reports", "render", str(results), "--no-baseline", "--no-pages"]
    subprocess.run([*command, "--out", str(out), "--json", str(out.with_suffix(".json"))], cwd=REPO, check=True)
    assert "| bert |" in (out.parent / "claims.md").read_text(encoding="utf-8")
