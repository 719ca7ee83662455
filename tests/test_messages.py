"""Messages that say what to fix (issue 15): wrong paths, heads that cannot be derived or converted, invertible
adapters on models whose embeddings are not of the hidden size; and the head-class filter and the generation
comparison found wanting on BART."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import reference_impl
from architectures import registry
from architectures.bert import BERT_LAYOUT
from architectures.bert import SPEC as BERT
from architectures.heads import HeadMap, StaticHead, derive, is_pretrained_base_name
from architectures.live import build_model, get_path, missing_paths
from conformance.sequences import end_of_sequence_ids, same_generation, until_end_of_sequence


def electra_config():
    from transformers import ElectraConfig

    return ElectraConfig(
        vocab_size=64, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip


# Not registered (another module may register the real ELECTRA); a BERT-like layout with embeddings of size 16.
ELECTRA = replace(
    BERT,
    name="electra_like",
    make_config=electra_config,
    base_class="ElectraModel",
    head_classes=("ElectraForMaskedLM",),
    heads=HeadMap(mapped=(StaticHead("ElectraForMaskedLM", "masked_lm", activation="gelu"),)),
    module=__name__,
)


# ----- paths -----


def test_a_wrong_path_is_said_once_for_every_layer_with_the_closest_names():
    stack = replace(BERT_LAYOUT.stacks[0], ffn_in="intermediat.dense")
    problems = missing_paths(replace(BERT_LAYOUT, stacks=(stack,)), build_model(BERT))
    assert problems == [
        "encoder.ffn_in='intermediat.dense' in every layer (0-2) (BertLayer): BertLayer has no attribute "
        "'intermediat'; did you mean 'intermediate'?"
    ]


def test_a_wrong_path_without_a_close_name_lists_what_exists():
    with pytest.raises(AttributeError) as info:
        get_path(build_model(BERT), "encoder.layer.0.attention.zzz")
    assert str(info.value) == (
        "encoder.layer.0.attention (BertAttention) has no attribute 'zzz'; it has: self, output"
    )


def test_registering_a_wrong_path_names_the_field_and_the_fix():
    stack = replace(BERT_LAYOUT.stacks[0], attention_norm="attention.output.layernorm")
    spec = replace(BERT, name="bert_typo", layouts=(replace(BERT_LAYOUT, stacks=(stack,)),))
    with pytest.raises(ValueError) as info:
        registry.register(spec, module=__name__)
    message = str(info.value)
    assert "encoder.attention_norm='attention.output.layernorm' in every layer (0-2)" in message
    assert "did you mean 'LayerNorm'?" in message
    assert message.count("attention.output.layernorm") == 1, "said once, not per layer"


# ----- heads -----


def test_a_head_that_cannot_be_derived_says_how_to_state_its_layers():
    static = build_model(ELECTRA, "ElectraForMaskedLM")
    with pytest.raises(ValueError) as info:
        derive(ELECTRA, static)
    message = str(info.value)
    assert "a LayerNorm without a Linear before it at generator_predictions.LayerNorm" in message
    assert "StaticHead('ElectraForMaskedLM', ..., layers={'hidden.0': '<path>'" in message
    assert "generator_predictions.dense (Linear)" in message and "generator_lm_head (Linear)" in message
    # and what it says works
    layers = {
        "hidden.0": "generator_predictions.dense",
        "norm.0": "generator_predictions.LayerNorm",
        "output": "generator_lm_head",
    }
    fixed = replace(
        ELECTRA, heads=HeadMap(mapped=(StaticHead("ElectraForMaskedLM", "masked_lm", "gelu", layers=layers),))
    )
    assert derive(fixed, static).slots == layers


def test_weights_a_flexible_head_has_no_place_for_are_said_by_where_they_sit():
    from reference_impl.heads.conversion import from_static

    static = build_model(BERT, "BertForSequenceClassification")
    static.register_parameter("final_logits_bias", torch.nn.Parameter(torch.ones(1, 2)))  # non-zero: it matters
    with pytest.raises(ValueError) as info:
        from_static(static, spec=BERT)
    message = str(info.value)
    assert message.startswith("BertForSequenceClassification cannot be converted: final_logits_bias sit outside")
    assert "the flexible classification head has no part that holds them (no spec field can map them)" in message
    assert "HeadMap (gaps={'BertForSequenceClassification':" in message
    assert "is the spec's head map complete" not in message


def test_a_tied_head_that_does_not_fit_names_shapes_not_tensors():
    from reference_impl.heads.config import HeadConfig
    from reference_impl.heads.modules import PredictionHead

    config = build_model(BERT).config
    embeddings = torch.nn.Embedding(5, 32)
    with pytest.raises(ValueError) as info:
        PredictionHead(HeadConfig(head_type="masked_lm", tie_output=True), config, embeddings)
    message = str(info.value)
    assert "weight of shape (5, 32)" in message
    assert "tensor(" not in message and "Parameter containing" not in message


# ----- invertible adapters sized from the embeddings -----


@pytest.mark.parametrize("config", ["seq_bn_inv", "double_seq_bn_inv"])
def test_an_invertible_adapter_is_sized_from_the_token_embeddings(config):
    model = reference_impl.init(build_model(ELECTRA, "ElectraForMaskedLM"), ELECTRA)
    model.add_adapter("inv", config)
    model.set_active_adapters("inv")
    ids = torch.randint(2, 64, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(input_ids=ids).logits  # was: mat1 and mat2 shapes cannot be multiplied (14x0 and 16x8)
    assert logits.shape == (2, 7, 64)


def test_an_invertible_adapter_refuses_embeddings_and_lm_head_of_different_sizes_up_front():
    static = build_model(ELECTRA, "ElectraForMaskedLM")
    static.generator_lm_head = torch.nn.Linear(20, 64)
    model = reference_impl.init(static, ELECTRA)
    with pytest.raises(ValueError, match=r"token embeddings and an LM head input of one size.*: 16, .*: 20"):
        model.add_adapter("inv", "seq_bn_inv")
    assert "inv" not in (model.adapter_state.configs or {}), "nothing half-built stays behind"


# ----- found on BART -----


@pytest.mark.parametrize(
    ("name", "excluded"),
    [
        ("BartPreTrainedModel", True),
        ("BartPretrainedModel", True),
        ("PretrainedBartModel", True),
        ("BartForConditionalGeneration", False),
        ("BartModel", False),
        ("PreTrainingHeadModel", False),
    ],
)
def test_pretrained_base_classes_and_their_aliases_are_no_head_classes(name, excluded):
    assert is_pretrained_base_name(name) is excluded


def test_generations_compare_up_to_each_rows_end_of_sequence():
    eos = [1]
    # the Parallel run padded an early-ended row to the batch's longest row
    assert same_generation([[2, 2, 1, 1, 1]], [[2, 2, 1]], start=1, eos_ids=eos)
    assert same_generation(torch.tensor([[5, 7, 1, 1]]), torch.tensor([[5, 7, 1]]), start=1, eos_ids=eos)
    assert not same_generation([[2, 2, 3, 1, 1]], [[2, 2, 1]], start=1, eos_ids=eos), "a token before eos differs"
    assert not same_generation([[2, 2, 3]], [[2, 2]], start=1, eos_ids=eos), "no eos: whole rows"
    # an end-of-sequence id inside the prompt is not the end
    assert until_end_of_sequence([[1, 4, 1, 0]], start=2, eos_ids=eos) == [[1, 4, 1]]
    assert until_end_of_sequence([[9, 1, 4]], start=0, eos_ids=[1, 4]) == [[9, 1]]


def test_end_of_sequence_ids_come_from_the_generation_config():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=16, eos_token_id=3))
    assert end_of_sequence_ids(model) == {3}
    model.generation_config.eos_token_id = [3, 4]
    assert end_of_sequence_ids(model) == {3, 4}
