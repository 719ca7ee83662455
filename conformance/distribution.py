"""Under pytest-xdist, the checks of one architecture and one feature run on one worker (``--dist=loadgroup``, by
``xdist_group``). Not one group per architecture: xdist hands each worker two groups up front, so with a handful of
architectures there was no balancing at all, and an architecture's whole share (its torch.compile check alone ~17 s)
decided the tail. Building a tiny model costs 10-30 ms, so a worker building most architectures loses little.
Set here rather than in ``addopts``: there ``--dist`` breaks every run without xdist (``-p no:xdist``, or xdist not
installed)."""

from __future__ import annotations

from typing import Any


# Features with one check that takes a large share of an architecture's time (torch.compile: ~17 s of ~90 s for
# bert): under xdist they start first, instead of last (xdist orders groups by their number of checks), where one
# worker ran it alone while the other had finished.
FIRST = frozenset({"torch_compile"})


def group_by_architecture(config: Any) -> None:
    """``-n N`` without ``--dist`` distributes by group; an explicit ``--dist`` is left alone. Under ``loadgroup`` the
    groups go out in collection order, which ``heavy_first`` arranges."""
    option = config.option
    if getattr(option, "dist", None) == "no" and getattr(option, "numprocesses", None):
        option.dist = "loadgroup"
    if getattr(option, "dist", None) == "loadgroup":
        option.loadscopereorder = False


def heavy_first(config: Any, items: list[Any]) -> None:
    """Under xdist (on the workers, which collect), the checks of ``FIRST`` features move to the front; a stable sort,
    so everything else keeps its order. Without xdist the order is left alone."""
    if getattr(config.option, "dist", "no") == "no" and not hasattr(config, "workerinput"):
        return
    items.sort(key=lambda item: not any(m.args and m.args[0] in FIRST for m in item.iter_markers("feature")))
