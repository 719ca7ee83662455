"""Under pytest-xdist, the checks of one architecture run on one worker (``--dist=loadgroup``, by ``xdist_group``), so
each worker builds a tiny model once. Set here rather than in ``addopts``: there ``--dist`` breaks every run without
xdist (``-p no:xdist``, or xdist not installed)."""

from __future__ import annotations

from typing import Any


def group_by_architecture(config: Any) -> None:
    """``-n N`` without ``--dist`` distributes by group; an explicit ``--dist`` is left alone."""
    option = config.option
    if getattr(option, "dist", None) == "no" and getattr(option, "numprocesses", None):
        option.dist = "loadgroup"
