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
