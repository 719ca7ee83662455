"""What a bottleneck adapter does differently at one site where ``placement="adapterhub"`` departs from the
definition: what it reads of the hooked module's output, whether it gets the residual input, what the module then
outputs. The bottleneck applies it around the definition's ``parts`` and ``finish``."""

from __future__ import annotations

from typing import ClassVar

import torch


class HubPlacement:
    """How a bottleneck adapter's placement departs from the definition at one site. This base: it does not."""

    reads_residual_input: ClassVar[bool] = True

    def branch(self, output: torch.Tensor) -> torch.Tensor:
        """The sub-layer branch the adapter reads, from the hooked module's output."""
        return output

    def output(self, result: torch.Tensor) -> torch.Tensor:
        """What the hooked module outputs so that the branch becomes ``result`` (the definition's finish)."""
        return result


DEFINITION = HubPlacement()
