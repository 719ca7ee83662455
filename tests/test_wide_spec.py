"""No check assumes the tiny configs' hidden size of 32: the checks whose sizes come from the config (Compacter,
invertible adapters, ReFT) and their definitions pass on a BERT 1.5 times as wide, used by hand as an architecture
author would."""

from __future__ import annotations

from dataclasses import replace

import pytest

from architectures import registry
from architectures.bert import SPEC as BERT
from conformance.checks.compacter import CompacterChecks
from conformance.checks.definition import DefinitionChecks
from conformance.checks.invertible import InvertibleChecks
from conformance.checks.reft import ReftChecks
from conformance.methods import METHODS
from conformance.models import hidden_size, seed_for


WIDE_HIDDEN_SIZE = 48


def wide_config():
    config = BERT.make_config()
    config.hidden_size = WIDE_HIDDEN_SIZE
    config.intermediate_size = 53
    return config


BERT_WIDE = replace(BERT, name="bert_wide", make_config=wide_config, module=__name__)


@pytest.fixture
def restored_registry():
    registry.load_builtin()
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_the_wide_spec_is_a_valid_wider_bert(restored_registry):
    assert registry.register(BERT_WIDE) is BERT_WIDE, "its paths exist on the live wide model"
    assert hidden_size(BERT_WIDE) == WIDE_HIDDEN_SIZE != hidden_size(BERT)


@pytest.mark.parametrize("method", ["loreft", "noreft", "direft", "seq_bn_inv", "double_seq_bn_inv", "compacter"])
def test_definition_holds_on_the_wide_spec(method):
    DefinitionChecks().test_output_matches_oracle(BERT_WIDE, METHODS[method], seed_for(f"wide-{method}"))


class TestWideCompacter(CompacterChecks):
    spec = BERT_WIDE


class TestWideInvertible(InvertibleChecks):
    spec = BERT_WIDE


class TestWideReft(ReftChecks):
    spec = BERT_WIDE
