"""The scaffolder against the hand-reviewed specs: a draft of a registered architecture must match it field by field."""

from __future__ import annotations

import pytest

import architectures
from architectures.__main__ import main
from architectures.scaffold import compare, draft, render, tiny_config


# The hand-written specs that predate the scaffolder: their drafts must match every field the draft decides.
HAND_WRITTEN = ("bert", "roberta", "deberta", "gpt2", "llama", "t5", "vit")


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_draft_matches_the_hand_written_spec(name):
    matched, compared, mismatches = compare(architectures.get(name))
    assert compared >= 16  # layout paths, norms, modality, base class and head types were all compared
    assert not mismatches, f"{name}: {matched}/{compared} fields match; {mismatches}"


def test_tiny_config_shrinks_by_attribute_name_and_alias():
    config, kwargs = tiny_config("gpt2")  # GPT-2 calls them n_embd, n_layer, n_head: attribute_map resolves
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (32, 2, 4)
    assert kwargs["n_embd"] == 32 and config.eos_token_id < config.vocab_size


def test_side_by_side_towers_are_named_by_their_holders():
    # both of CLIP's towers are encoders: named alike, the draft's layout would be refused (stack names are unique)
    matched, _, mismatches = compare(architectures.get("clip"))
    assert not [m for m in mismatches if m.startswith(("text.path", "vision."))], mismatches
    assert matched >= 25


def test_draft_module_compiles_and_marks_what_it_could_not_decide():
    result = draft("gptj")  # GPT-J runs attention and FFN in parallel off one norm: no ffn_norm to find
    text = render(result)
    compile(text, "gptj.py", "exec")
    assert "TODO" in text and not result.complete
    assert "# by name" in text


def test_unknown_model_type_is_a_clear_error(capsys):
    assert main(["scaffold", "no_such_model"]) == 2
    assert "no model type 'no_such_model'" in capsys.readouterr().err


def test_coverage_finds_registered_specs_by_their_dashed_model_type_with_the_certified_range():
    from architectures.coverage import REGISTERED, classify

    entry = classify("xlm-roberta", {"xlm_roberta"}, {"xlm_roberta": "4.57.6 – 5.24.0"})
    assert (entry.status, entry.detail) == (REGISTERED, "certified: 4.57.6 – 5.24.0")
    assert classify("bert", {"bert"}, {}).status == REGISTERED
