"""Self-tests of `architectures.registry`: every bad spec is refused with a message naming field, value and module."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from architectures import registry
from architectures.bert import BERT_LAYOUT
from architectures.bert import SPEC as BERT
from architectures.features import METHOD_NAMES
from architectures.live import build_model, missing_paths, resolve_layout
from architectures.spec import ArchitectureSpec, AttentionSpec
from architectures.versions import installed


MODULE = "tests.fake_arch_module"  # the module a test spec claims to come from; every message must name it
BUILTIN = {"bert", "deberta", "gpt2", "roberta", "t5", "vit"}
STACK = BERT_LAYOUT.stacks[0]


@pytest.fixture(autouse=True)
def clean_registry():
    """Whatever a test registers is gone afterwards; the builtin specs are as before."""
    registry.load_builtin()
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def bert_like(**changes) -> ArchitectureSpec:
    return replace(BERT, **{"name": "bert_copy", "module": "", **changes})


def with_stack(**changes) -> ArchitectureSpec:
    """A copy of BERT whose only layer stack has ``changes``."""
    return bert_like(layouts=(replace(BERT_LAYOUT, stacks=(replace(STACK, **changes),)),))


def refused(spec: ArchitectureSpec, *fragments: str) -> str:
    """Registering ``spec`` raises ValueError naming every fragment and the module; the registry is unchanged."""
    before = dict(registry._REGISTRY)
    with pytest.raises(ValueError) as info:
        registry.register(spec, module=MODULE)
    message = str(info.value)
    for fragment in (*fragments, MODULE):
        assert fragment in message, f"{fragment!r} missing from the error: {message}"
    assert registry._REGISTRY == before, "a refused spec must not be registered"
    return message


def test_a_valid_copy_registers_and_is_found_by_name():
    spec = registry.register(bert_like(), module=MODULE)
    assert spec.module == MODULE
    assert registry.get("bert_copy") is spec


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        pytest.param(
            {"ffn_in": "intermediate.dense_in"},
            ("ffn_in", "'intermediate.dense_in'", "every layer (0-2)", "BertLayer", "intermediate", "'dense_in'"),
            id="missing-leaf",
        ),
        pytest.param(
            {"ffn_norm": "output_block.LayerNorm"},
            ("ffn_norm", "'output_block.LayerNorm'", "every layer (0-2)", "BertLayer", "'output_block'"),
            id="missing-parent",
        ),
        pytest.param(
            {"self_attention": replace(STACK.self_attention, k="attention.self.keys")},
            ("self_attention.k", "'attention.self.keys'", "every layer (0-2)", "attention.self", "'keys'"),
            id="missing-attention-projection",
        ),
        pytest.param(
            {"path": "encoder.layers"},
            ("path", "'encoder.layers'", "encoder", "BertEncoder", "'layers'"),
            id="missing-layer-list",
        ),
    ],
)
def test_path_missing_on_the_live_model(changes, fragments):
    message = refused(with_stack(**changes), *fragments)
    assert "bert_copy" in message


def test_embeddings_path_missing_on_the_live_model():
    spec = bert_like(layouts=(replace(BERT_LAYOUT, embeddings="embeddings.tokens"),))
    refused(spec, "embeddings", "'embeddings.tokens'", "BertEmbeddings", "'tokens'")


def test_every_layout_is_reported_when_none_matches():
    broken = replace(BERT_LAYOUT, name="broken", embeddings="embedding")
    also_broken = replace(BERT_LAYOUT, name="also_broken", stacks=(replace(STACK, ffn_out="out.dense"),))
    refused(bert_like(layouts=(broken, also_broken)), "'broken'", "'also_broken'", "'embedding'", "'out.dense'")


def test_a_later_layout_is_used_when_the_first_does_not_match():
    stale = replace(BERT_LAYOUT, name="stale", stacks=(replace(STACK, path="layers"),))
    spec = registry.register(bert_like(layouts=(stale, BERT_LAYOUT)), module=MODULE)
    assert resolve_layout(spec, build_model(spec)) is BERT_LAYOUT


def test_separate_and_fused_qkv_together_are_refused():
    with pytest.raises(ValueError, match=r"either q/k/v or a fused qkv \('attention.self.qkv'\)") as info:
        AttentionSpec(
            module="attention.self",
            output="attention.output.dense",
            q="attention.self.query",
            k="attention.self.key",
            v="attention.self.value",
            qkv="attention.self.qkv",
        )
    assert "'attention.self'" in str(info.value)  # which attention block


@pytest.mark.parametrize(
    "given",
    [{}, {"q": "attention.self.query", "k": "attention.self.key"}],
    ids=["neither", "only-q-and-k"],
)
def test_neither_complete_qkv_nor_fused_is_refused(given):
    with pytest.raises(ValueError, match=r"give all of q, k and v, or a fused qkv") as info:
        AttentionSpec(module="attention.self", output="attention.output.dense", **given)
    message = str(info.value)
    assert "'attention.self'" in message
    assert "None" in message  # the value that is missing


def test_bad_qkv_layout_is_refused():
    with pytest.raises(ValueError, match=r"qkv_layout must be 'blocked' or 'per_head', not 'interleaved'"):
        AttentionSpec(module="attn", output="attn.c_proj", qkv="attn.c_attn", qkv_layout="interleaved")


@pytest.mark.parametrize(
    "given",
    [
        {"q": "attn.q", "k": "attn.k", "v": "attn.v"},  # separate projections have their own sizes
        {"qkv": "attn.c_attn", "qkv_layout": "per_head"},  # grouped per-head layouts are not stated
    ],
)
def test_qkv_sizes_by_heads_needs_a_fused_blocked_projection(given):
    with pytest.raises(ValueError, match=r"qkv_sizes='by_heads' is for a fused, blocked qkv projection"):
        AttentionSpec(module="attn", output="attn.c_proj", qkv_sizes="by_heads", **given)
    with pytest.raises(ValueError, match=r"qkv_sizes must be 'equal' or 'by_heads', not 'thirds'"):
        AttentionSpec(module="attn", output="attn.c_proj", qkv="attn.c_attn", qkv_sizes="thirds")


def test_unknown_gap_feature():
    message = refused(bert_like(gaps={"lorra": "typo"}), "ArchitectureSpec.gaps", "'lorra'")
    assert "lora" in message.split("known names:")[1], "the error lists the valid names"


def test_a_layout_for_some_configs_only_does_not_match_another():
    # GPTBigCode's c_attn is [q; k; v] with one key/value head under multi-query attention, per head without it
    spec = registry.get("gpt_bigcode")
    model = build_model(spec)
    assert resolve_layout(spec, model) is spec.layouts[0]
    model.config.multi_query = False
    with pytest.raises(ValueError, match=r"config.multi_query=False: the layout is for multi_query=True"):
        resolve_layout(spec, model)


@pytest.mark.parametrize("unsupported", [{"supports_lora": "typo"}, {"supports_sdpa": " "}])
def test_unsupported_names_a_capability_read_off_transformers_with_a_reason(unsupported):
    refused(bert_like(unsupported=unsupported), "ArchitectureSpec.unsupported", "supports_gradient_checkpointing")


def test_unsupported_capability_is_off_with_its_reason():
    from conformance.capabilities import not_applicable

    spec = bert_like(unsupported={"supports_gradient_checkpointing": "its forward never checkpoints"})
    assert BERT.supports_gradient_checkpointing and not spec.supports_gradient_checkpointing
    reason = not_applicable(("supports_gradient_checkpointing",), spec, None)
    assert reason == "bert_copy does not support gradient checkpointing: its forward never checkpoints"


def test_gap_may_name_a_single_method():
    spec = registry.register(bert_like(gaps={METHOD_NAMES[0]: "not this one"}), module=MODULE)
    assert spec.gap_reason("anything", METHOD_NAMES[0]) == "not this one"


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_gap_without_reason(reason):
    refused(bert_like(gaps={"lora": reason}), "ArchitectureSpec.gaps['lora']", "reason")


def test_tolerance_without_reason():
    refused(bert_like(tolerances={"merge": (1e-4, "")}), "ArchitectureSpec.tolerances['merge']", "(0.0001, '')")


def test_duplicate_name_from_another_module():
    refused(replace(BERT, module=""), "ArchitectureSpec.name='bert'", "architectures.bert")
    assert registry.get("bert") is BERT


def test_reregistering_from_the_same_module_replaces():
    registry.register(bert_like(), module=MODULE)
    again = registry.register(bert_like(gaps={"lora": "changed my mind"}), module=MODULE)
    assert registry.get("bert_copy") is again


def test_head_class_missing_from_transformers_names_the_field():
    refused(bert_like(head_classes=("BertForSequenceClassification", "BertForTelepathy")), "head_classes")


def test_head_class_missing_from_transformers():
    version = installed("transformers")
    spec = bert_like(head_classes=("BertForSequenceClassification", "BertForTelepathy"))
    refused(spec, "'BertForTelepathy'", f"transformers {version}")


def test_base_class_missing_from_transformers():
    refused(bert_like(base_class="BertModelX"), "'BertModelX'")


@pytest.mark.parametrize("modality", ["audio_video", "", "Vision"])
def test_bad_modality(modality):
    message = refused(bert_like(modality=modality), f"ArchitectureSpec.modality={modality!r}")
    assert "text_encoder" in message and "vision" in message, "the error lists the valid modalities"


@pytest.mark.parametrize("name", ["BERT", "my-bert", "", "bert.v2"])
def test_bad_name(name):
    refused(bert_like(name=name), f"ArchitectureSpec.name={name!r}")


def test_no_layout():
    refused(bert_like(layouts=()), "ArchitectureSpec.layouts")


# (not named ``spec``: the conformance plugin parametrizes every test that takes a ``spec`` argument)
@pytest.mark.parametrize("builtin", registry.all_specs(), ids=lambda s: s.name)
def test_every_builtin_spec_registers_again(builtin):
    assert registry.register(builtin, module=builtin.module) is builtin
    assert registry.get(builtin.name) is builtin


def _head_classes() -> list:
    return [
        pytest.param(spec, class_name, id=f"{spec.name}-{class_name}")
        for spec in registry.all_specs()
        for class_name in (spec.base_class, *registry.installed_head_classes(spec))
        if spec.heads is None or class_name not in spec.heads.gaps  # a declared gap is not certified
    ]


@pytest.mark.parametrize(("builtin", "class_name"), _head_classes())
def test_a_layout_resolves_on_every_certified_class(builtin, class_name):
    model = build_model(builtin, class_name)
    assert missing_paths(resolve_layout(builtin, model), model) == []


def test_all_specs_returns_every_builtin_module_once():
    specs = registry.all_specs()
    names = [s.name for s in specs]
    assert BUILTIN <= set(names)
    assert len(names) == len(set(names)) == len(registry.builtin_modules())
    assert names == sorted(names)
    assert all(s.module == f"architectures.{s.name}" for s in specs)


def test_get_unknown_name_lists_the_registered():
    with pytest.raises(KeyError, match=r"unknown architecture 'bret'; registered: .*bert"):
        registry.get("bret")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("no_such_pkg.arch", r"cannot import architecture module 'no_such_pkg.arch'"), ("json", r"registered no")],
)
def test_load_module_errors(path, expected):
    with pytest.raises(ValueError, match=expected):
        registry.load_module(path)


# The ViT layout each installed transformers is known to have: nested up to 5.0, flat by 5.24.
VIT_LAYOUT_BY_VERSION = {"4.57.6": "vit-nested", "5.0.0": "vit-nested", "5.24.0": "vit-flat"}


def test_vit_resolves_the_layout_of_the_installed_transformers():
    from architectures.vit import SPEC as VIT

    model = build_model(VIT)
    layout = resolve_layout(VIT, model)
    assert missing_paths(layout, model) == []
    others = [other for other in VIT.layouts if other is not layout]
    assert others and all(missing_paths(other, model) for other in others), "exactly one layout should match"
    expected = VIT_LAYOUT_BY_VERSION.get(installed("transformers"))
    if expected is not None:
        assert layout.name == expected


def test_layer_list_index_out_of_range():
    message = refused(with_stack(path="encoder.layer.5"), "path", "'encoder.layer.5'")
    assert re.search(r"encoder.layer has no item 5", message)
