"""``@requires(...)``: a check that applies only to methods (or architectures) with the named capabilities.

A capability is one of the expectations manifest (``conformance.expectations``: ``mergeable``, ``per_layer``, ...,
and ``block:<Block>``: the method's adapters take part in that composition block), or a boolean attribute of the
method under test (``prefix``, ``gated``), the head under test (``lm``) or the architecture spec (``has_lm_head``).
A leading ``!`` asks for the opposite. A check that does not apply is still collected: it is recorded as not
applicable, with the reason, and is neither a pass nor a failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import expectations


MARKER = "conformance_requires"
NOT_APPLICABLE_MARKER = "conformance_not_applicable"


def requires(*capabilities: str) -> pytest.MarkDecorator:
    return getattr(pytest.mark, MARKER)(*capabilities)


BLOCK_PREFIX = "block:"  # "block:Parallel": the manifest expects the method's adapters to take part in Parallel


def not_applicable(capabilities: tuple[str, ...], spec: Any, method: Any) -> str | None:
    """Why a check that requires ``capabilities`` does not apply to (``spec``, ``method``); None when it applies."""
    for name in capabilities:
        wanted = not name.startswith("!")
        name = name.removeprefix("!")
        if name.startswith(BLOCK_PREFIX):
            reason = _block_reason(method, name.removeprefix(BLOCK_PREFIX), wanted)
        elif name in expectations.CAPABILITIES and hasattr(method, "config"):
            reason = expectations.capability_reason(method.name, name, wanted)
        else:
            reason = _attribute_reason(name, wanted, spec, method)
        if reason is not None:
            return reason
    return None


def applies(capabilities: tuple[str, ...], spec: Any, method: Any) -> bool:
    return not_applicable(capabilities, spec, method) is None


def _block_reason(method: Any, block: str, wanted: bool) -> str | None:
    if method is None:
        raise pytest.UsageError(f"@requires('block:{block}') needs a check parametrized by method")
    refused = expectations.block_reason(method.name, block)
    if wanted:
        return refused
    return None if refused else f"{method.name} takes part in {block}: it must not be refused"


# What an attribute of a method, head or spec means when true and when false: the n/a reason of a check needing it.
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "has_lm_head": ("has a language-model head class", "has no language-model head class"),
    "has_flexible_heads": ("has an adapter model with flexible heads", "has no adapter model with flexible heads"),
    "has_attention_mask": ("takes an attention mask", "takes no attention mask"),
    "has_embedding_module": (
        "embeds its inputs in a module of its own before the layers",
        "embeds its tokens in a module that holds layers too (positions are added in the model's forward)",
    ),
    "shrinks_to_one_token": (
        "can be fed a single token in every layer stack",
        "cannot be fed a single token in every layer stack (patches or frames do not shrink)",
    ),
    "supports_sdpa": ("has an SDPA attention implementation", "has no SDPA attention implementation"),
    "supports_gradient_checkpointing": ("supports gradient checkpointing", "does not support gradient checkpointing"),
    "prefix": ("holds prefix tuning", "holds no prefix tuning"),
    "adapts_projections": ("adapts linear projections", "adapts no linear projection"),
    "union": ("is a union of methods", "is not a union of methods"),
    "gated": ("gates its parts", "has no gates"),
    "labelled": ("names its labels", "names no labels"),
    "lm": ("is a language-model head", "is not a language-model head"),
}


def _attribute_reason(name: str, wanted: bool, spec: Any, method: Any) -> str | None:
    for subject in (method, spec):
        if subject is not None and hasattr(subject, name):
            value = bool(getattr(subject, name))
            if value == wanted:
                return None
            having, lacking = ATTRIBUTES.get(name, (f"has {name}", f"lacks {name}"))
            why = getattr(subject, "unsupported", {}).get(name)  # the spec says why transformers' claim fails
            return f"{subject.name} {having if value else lacking}" + (f": {why}" if why and not value else "")
    raise pytest.UsageError(
        f"unknown capability {name!r} in @requires; use one of the manifest's "
        f"({', '.join(expectations.CAPABILITIES)}), block:<Block>, or a method, head or spec attribute"
    )
