"""``@requires(...)``: a check that applies only to methods (or architectures) with the named capabilities.

A capability is a boolean attribute of the method under test (``mergeable``, ``per_layer``) or of the architecture
spec (``has_lm_head``), or ``block:<Block>``: the implementation lets the method's adapters take part in that
composition block. A leading ``!`` asks for the opposite. Checks that do not apply are not collected at all; they are neither passes nor skips.
"""

from __future__ import annotations

from typing import Any

import pytest


MARKER = "conformance_requires"


def requires(*capabilities: str) -> pytest.MarkDecorator:
    return getattr(pytest.mark, MARKER)(*capabilities)


BLOCK_PREFIX = "block:"  # "block:Parallel": the implementation lets the method's adapters take part in Parallel


def applies(capabilities: tuple[str, ...], spec: Any, method: Any) -> bool:
    for name in capabilities:
        wanted = not name.startswith("!")
        name = name.removeprefix("!")
        if name.startswith(BLOCK_PREFIX):
            from . import impl

            if method is None or impl.supports_block(method.config, name.removeprefix(BLOCK_PREFIX)) != wanted:
                return False
            continue
        for subject in (method, spec):
            if subject is not None and hasattr(subject, name):
                if bool(getattr(subject, name)) != wanted:
                    return False
                break
        else:
            raise pytest.UsageError(f"unknown capability {name!r} in @requires; use a method or spec attribute")
    return True
