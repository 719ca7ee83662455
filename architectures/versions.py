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


def transformers_in(first: str, fixed_in: str) -> bool:
    """The installed transformers is at least ``first`` and older than ``fixed_in``: where an upstream defect is."""
    found = installed("transformers")
    return found is not None and _release(first) <= _release(found) < _release(fixed_in)


SUPPORTED_TRANSFORMERS = ">=4.57,<6"


def transformers_has(name: str) -> bool:
    """The installed transformers exports ``name`` (a class that arrived in a release after 5.0, which one unknown)."""
    import transformers

    return hasattr(transformers, name)


def checkpoints_reentrantly_by_default() -> bool:
    """transformers 4.x's ``gradient_checkpointing_enable()`` checkpoints reentrantly unless told otherwise; 5.0 made
    non-reentrant checkpointing the default."""
    return not transformers_at_least("5.0")


# reference_impl/methods/prefix/deberta.py copies DeBERTa's DisentangledSelfAttention.forward. The fingerprint of the
# upstream source it was copied from (statements only: comments, docstrings and annotations aside; see
# reference_impl/methods/prefix/upstream.py), one entry per range of transformers versions with the same source. The
# raw text differs between 4.57.6 and 5.x (Optional[...] became ... | None, docstrings); the statements do not.
DEBERTA_ATTENTION_SOURCES = (
    {
        "function": "transformers.models.deberta.modeling_deberta.DisentangledSelfAttention.forward",
        "versions": ("4.57.6", "5.0.0", "5.24.0"),
        "sha256": "1b554d3a12413176be057354900b7f73193c47090523fe89da0be46a28fc93e5",
        "statements": (
            "9b0b5e83 c897e40a 2584dc9e c6e572dd fee6b582 de276a8f d84f36d7 00250cf5 fca94e7a ecde4f44 b4d9099f "
            "4be27d09 77320ab9 d02d0b61 e37cf58e d64602b8 6dca319f 6bac7ce3 636d821f 0c83b1bb 85ee6aa4 beacf124 "
            "77e9983f 3d1297ad 843452d6 96fa0e7d fd17158b fc2dc7c1 29e96137 890ec558 288a02df c9aaeed0 4b9d95b5 "
            "47911e5c a50adb4a e0838862 86e1817d 7afdb3f6"
        ).split(),
    },
)
