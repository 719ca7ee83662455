"""Self-tests of the expectations manifest: the README's block table is rendered from it, every method has an entry,
and it answers with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from architectures.features import METHOD_NAMES
from conformance import expectations
from conformance.capabilities import not_applicable
from conformance.methods import METHODS


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_block_table_is_the_rendered_manifest():
    lines = [line.strip() for line in README.read_text(encoding="utf-8").splitlines()]
    start = lines.index(expectations.render_block_table()[0])
    table = lines[start : start + len(expectations.GROUPS) + 2]
    assert table == expectations.render_block_table(), "run `python -m conformance.expectations` and paste its table"


def test_every_method_has_blocks_and_capabilities():
    for method in METHOD_NAMES:
        assert "Stack" in expectations.expected_blocks(method)
        for capability in expectations.CAPABILITIES:
            expectations.has(method, capability)


def test_refused_blocks_and_missing_capabilities_come_with_reasons():
    assert expectations.block_reason("lora", "Parallel") is None
    assert "AdapterFusion" in expectations.block_reason("lora", "Fuse")
    assert expectations.capability_reason("lora", "mergeable", wanted=True) is None
    assert "undefined" in expectations.capability_reason("seq_bn", "mergeable", wanted=True)
    assert "identity" in expectations.capability_reason("prefix_tuning", "identity_at_init", wanted=True)


def test_unknown_names_say_what_is_known():
    with pytest.raises(KeyError, match="known: Stack"):
        expectations.block_reason("lora", "Chain")
    with pytest.raises(KeyError, match="mergeable"):
        expectations.has("lora", "mergable")
    with pytest.raises(KeyError, match="no entry for method"):
        expectations.expected_blocks("vera")


def test_requires_reads_the_manifest():
    assert not_applicable(("block:Fuse",), None, METHODS["seq_bn"]) is None
    assert "takes no part in Fuse" in not_applicable(("block:Fuse",), None, METHODS["lora"])
    assert "must not be refused" in not_applicable(("!block:Fuse",), None, METHODS["seq_bn"])
    assert not_applicable(("mergeable",), None, METHODS["dora"]) is None
    assert "undefined" in not_applicable(("mergeable",), None, METHODS["prompt_tuning"])
