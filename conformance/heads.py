"""The head types under test (how the checks add each one), and the parametrization of head and class-conversion
checks over (architecture, head type) and (architecture, static head class). Import-light: no torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass(frozen=True)
class HeadUnderTest:
    """``add`` is the adapter model's method that adds this head type, called with ``kwargs``."""

    name: str
    add: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    labelled: bool = False  # the head names its labels (id2label)
    lm: bool = False  # a language-modelling head (output over the vocabulary)

    def __str__(self) -> str:
        return self.name


HEADS: dict[str, HeadUnderTest] = {
    h.name: h
    for h in (
        HeadUnderTest("classification", "add_classification_head", {"num_labels": 3}, labelled=True),
        HeadUnderTest(
            "multilabel_classification", "add_classification_head", {"num_labels": 3, "multilabel": True}, True
        ),
        HeadUnderTest("tagging", "add_tagging_head", {"num_labels": 3}, labelled=True),
        HeadUnderTest("multiple_choice", "add_multiple_choice_head"),
        HeadUnderTest("question_answering", "add_qa_head"),
        HeadUnderTest("masked_lm", "add_masked_lm_head", lm=True),
        HeadUnderTest("causal_lm", "add_causal_lm_head", lm=True),
        HeadUnderTest("seq2seq_lm", "add_seq2seq_lm_head", lm=True),
        HeadUnderTest("image_classification", "add_image_classification_head", {"num_labels": 3}, labelled=True),
    )
}


def parametrize_heads(
    metafunc: pytest.Metafunc,
    specs: list[Any],
    feature: str,
    capabilities: tuple[str, ...],
    marks: Callable[..., list[pytest.MarkDecorator]],
) -> None:
    """``(spec, head)`` over the head types each spec offers, ids ``bert-classification``; or ``(spec, static_class)``
    over the static head classes transformers has for each spec and those it names, ids ``gpt2-GPT2LMHeadModel``.
    A class the spec declares a gap is skipped with the spec's reason."""
    from architectures.heads import classes_under_test, gap_reason, head_types

    from .capabilities import not_applicable

    if "head" in metafunc.fixturenames:
        params = [
            pytest.param(
                spec,
                HEADS[kind],
                id=f"{spec.name}-{kind}",
                marks=marks(spec, feature, None, not_applicable(capabilities, spec, HEADS[kind])),
            )
            for spec in specs
            for kind in head_types(spec)
        ]
        metafunc.parametrize(("spec", "head"), params)
        return
    params = []
    for spec in specs:
        for class_name in classes_under_test(spec):
            extra = []
            reason = gap_reason(spec, class_name)
            if reason:
                extra = [
                    pytest.mark.conformance_gap(f"{class_name} {reason}"),
                    pytest.mark.skip(reason=f"declared gap of {spec.name}: {class_name} {reason}"),
                ]
            params.append(
                pytest.param(
                    spec, class_name, id=f"{spec.name}-{class_name}", marks=[*marks(spec, feature, None), *extra]
                )
            )
    metafunc.parametrize(("spec", "static_class"), params)
