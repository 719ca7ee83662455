"""``@requires(...)``: a check that applies only to methods (or architectures) with the named capabilities.

A capability is a boolean attribute of the method under test (``mergeable``, ``per_layer``) or of the architecture
spec (``has_lm_head``). Checks that do not apply are not collected at all; they are neither passes nor skips.
"""

from __future__ import annotations

from typing import Any

import pytest


MARKER = "conformance_requires"


def requires(*capabilities: str) -> pytest.MarkDecorator:
    return getattr(pytest.mark, MARKER)(*capabilities)


def applies(capabilities: tuple[str, ...], spec: Any, method: Any) -> bool:
    for name in capabilities:
        for subject in (method, spec):
            if subject is not None and hasattr(subject, name):
                if not getattr(subject, name):
                    return False
                break
        else:
            raise pytest.UsageError(f"unknown capability {name!r} in @requires; use a method or spec attribute")
    return True
