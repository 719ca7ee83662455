"""The fenced copy of DeBERTa's attention forward is tied to the upstream source it was made from: a change upstream
fails, naming the first differing line; what does not change behaviour (comments, docstrings, annotations) does not."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from transformers.models.deberta.modeling_deberta import DisentangledSelfAttention

from reference_impl.methods.prefix import deberta
from reference_impl.methods.prefix.upstream import UpstreamChanged, check_copy, record


UPSTREAM = textwrap.dedent(inspect.getsource(DisentangledSelfAttention.forward))
CHANGED = "scale_factor = 1 + len(self.pos_att_type)"


def _function_from(source: str, tmp_path: Path) -> Any:
    """``forward`` defined in a file of its own, so that its source and line numbers can be read like upstream's."""
    path = tmp_path / "upstream_module.py"
    path.write_text("from typing import Optional\n\nimport torch\nfrom torch import nn\n\n\n" + source)
    spec = importlib.util.spec_from_file_location("upstream_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.forward, path


def test_the_installed_transformers_has_the_recorded_source():
    deberta.check_upstream.cache_clear()
    deberta.check_upstream(DisentangledSelfAttention)  # raises UpstreamChanged otherwise


def test_a_changed_statement_fails_naming_its_file_and_line(tmp_path):
    assert CHANGED in UPSTREAM, "the statement this test edits is in the upstream source"
    forward, path = _function_from(UPSTREAM.replace(CHANGED, "scale_factor = 2 + len(self.pos_att_type)"), tmp_path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "scale_factor = 2 +" in text)
    with pytest.raises(UpstreamChanged) as info:
        check_copy(forward, deberta.SOURCES, "the copy")
    message = str(info.value)
    assert f"{path}:{line}: scale_factor = 2 + len(self.pos_att_type)" in message, message  # a file outside a package
    assert "4.57.6" in message and "Port the change into the copy" in message


def test_a_removed_statement_is_located_too(tmp_path):
    lines = UPSTREAM.splitlines()
    at = next(i for i, text in enumerate(lines) if "attention_probs = self.dropout(attention_probs)" in text)
    forward, path = _function_from("\n".join(lines[:at] + lines[at + 1 :]) + "\n", tmp_path)
    with pytest.raises(UpstreamChanged, match=rf"{path}:\d+: "):
        check_copy(forward, deberta.SOURCES, "the copy")


def test_comments_docstrings_annotations_and_formatting_do_not_count(tmp_path):
    source = UPSTREAM.replace('"""', '"""Reworded. ', 1).replace(CHANGED, f"{CHANGED}  # a new comment")
    source = source.replace("torch.Tensor | None", "Optional[torch.Tensor]").replace("):\n", "):  # noqa\n", 1)
    forward, _ = _function_from(source, tmp_path)
    check_copy(forward, deberta.SOURCES, "the copy")
    assert record(forward, ()).sha256 == deberta.SOURCES[0].sha256


def test_a_drifted_upstream_fails_the_deberta_prefix_checks(inner_run, monkeypatch):
    """What a user sees: the prefix-tuning cells of DeBERTa are ❌ with the location, the others are unaffected."""
    drifted = record(DisentangledSelfAttention.forward, ("9.9.9",))
    drifted = type(drifted)(drifted.function, drifted.versions, "0" * 64, drifted.statements[:-1] + ("00000000",))
    monkeypatch.setattr(deberta, "SOURCES", (drifted,))
    deberta.check_upstream.cache_clear()
    result = inner_run.runpytest("--arch=deberta", "--method=prefix_tuning,lora", "--results", "out.json")
    deberta.check_upstream.cache_clear()
    checks = json.loads((inner_run.path / "out.json").read_text())["checks"]
    prefix = [c for c in checks if c["method"] == "prefix_tuning" and c["outcome"] != "n/a"]
    lora = [c for c in checks if c["method"] == "lora"]
    assert prefix and all(c["outcome"] in ("failed", "error") for c in prefix)
    assert any(
        "UpstreamChanged" in c["reason"] and "transformers/models/deberta/modeling_deberta.py:" in c["reason"]
        for c in prefix
    ), prefix
    assert lora and all(c["outcome"] == "passed" for c in lora)
    result.stdout.fnmatch_lines(["*deberta*❌*"])
    assert sys.modules["reference_impl"] is not None
