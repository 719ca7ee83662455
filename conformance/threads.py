"""How many threads torch uses in a run. Tiny models gain nothing from intra-op threads, and on a busy machine every
extra thread fights the other processes for the cores (a plain run was 10x slower): one thread unless the user says
otherwise, with ``--torch-threads N`` or ``OMP_NUM_THREADS``."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest


OPTION = "--torch-threads"
ENVIRONMENT = "OMP_NUM_THREADS"
DEFAULT = 1
CHOSEN = pytest.StashKey["tuple[int | None, str]"]()


def add_option(group: Any) -> None:
    group.addoption(
        OPTION,
        type=int,
        default=None,
        metavar="N",
        help=f"Intra-op threads of torch (default: {DEFAULT}, or {ENVIRONMENT} when it is set; tiny models gain "
        "nothing from more, and on a busy machine they make the run many times slower)",
    )


def limit_threads(config: pytest.Config) -> None:
    """Set the thread count before torch is imported (through the environment, which xdist workers inherit too)
    and, when torch is imported already, on torch itself."""
    requested = config.getoption("torch_threads")
    if requested is not None and requested < 1:
        raise pytest.UsageError(f"{OPTION}={requested}: give a positive number of threads")
    if requested is None and os.environ.get(ENVIRONMENT):
        config.stash[CHOSEN] = (None, f"{os.environ[ENVIRONMENT]}, from {ENVIRONMENT}")
        return
    count = requested or DEFAULT
    os.environ[ENVIRONMENT] = str(count)
    config.stash[CHOSEN] = (count, f"{count}, from {OPTION}" if requested else f"{count}; {OPTION}=N to change")
    apply(config)


def apply(config: pytest.Config) -> None:
    """Tell torch, if it is imported (a conftest or an earlier import may have loaded it before the environment
    was set)."""
    count, _ = config.stash.get(CHOSEN, (None, ""))
    torch = sys.modules.get("torch")
    if count is not None and torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(count)


def header_line(config: pytest.Config) -> str:
    _, described = config.stash.get(CHOSEN, (None, "not limited"))
    return f"torch threads: {described}"
