"""Every check of the installed transformers / torch version lives here, so version gates can be found in one place."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _release(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def transformers_at_least(minimum: str) -> bool:
    found = installed("transformers")
    return found is not None and _release(found) >= _release(minimum)


SUPPORTED_TRANSFORMERS = ">=4.57,<6"


# reference_impl/methods/prefix/deberta.py copies DeBERTa's DisentangledSelfAttention.forward; these are the first
# and the last transformers release it was checked against (same logic in 4.57.6, 5.0.0 and 5.24.0).
DEBERTA_ATTENTION_COPY = ("4.57.6", "5.24.0")


def deberta_attention_copy_current() -> bool:
    found = installed("transformers")
    low, high = DEBERTA_ATTENTION_COPY
    return found is not None and _release(low) <= _release(found)[:3] <= _release(high)
