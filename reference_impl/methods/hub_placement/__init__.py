"""Bottleneck adapters placed as AdapterHub ``adapters`` 1.3 places them (``BnConfig.placement="adapterhub"``), on the
architectures where its modeling code departs from the definition (docs/adapters/placement.md). Each module holds the
placers of the architectures it knows: a placer takes the definition's placements and returns them as the config's
``placement`` says (a rule per site, ``rule.HubPlacement``, or hooks of its own)."""

from __future__ import annotations

from typing import Any

from ...state import AdapterState
from . import beit_phi, gptj_gemma, modernbert
from .gptj_gemma import remove_gptj_hooks
from .placer import Placer
from .rule import DEFINITION, HubPlacement


PLACERS: dict[str, Placer] = {**beit_phi.PLACERS, **gptj_gemma.PLACERS, **modernbert.PLACERS}

__all__ = ["DEFINITION", "PLACERS", "HubPlacement", "remove_hooks"]


def remove_hooks(model: Any, state: AdapterState) -> None:
    """Remove a placer's own hooks once no adapter needs them (after a delete)."""
    remove_gptj_hooks(model, state)
