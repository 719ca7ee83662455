"""Adapter sites: the adapters attached to one projection of the model, run by one forward hook on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .context import context_setup


if TYPE_CHECKING:
    from .state import AdapterState

SITE_ATTRIBUTE = "adapter_site"


class AdapterSite(nn.Module):
    """Adapters on one projection (a Linear or Conv1D), applied to its output in a fixed order.

    LoRA updates need the projection's input and come first; bottleneck adapters transform the result, in the order
    of the active setup. A site that feeds parallel adapters hands its input to the sites listed in ``_feeds``.
    """

    def __init__(self, state: AdapterState, layer_index: int, location: str):
        super().__init__()
        self._state = state  # shared with the model and every other site; plain attribute, not a submodule
        self.layer_index = layer_index
        self.location = location
        self.lora = nn.ModuleDict()
        self.bottleneck = nn.ModuleDict()
        self._feeds: list[AdapterSite] = []
        self._parallel_input: torch.Tensor | None = None

    def is_empty(self) -> bool:
        return not self.lora and not self.bottleneck and not self._feeds

    def adapters(self, name: str) -> dict[str, nn.Module]:
        found = {}
        for kind in ("lora", "bottleneck"):
            container = getattr(self, kind)
            if name in container:
                found[kind] = container[name]
        return found

    def hook(self, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
        setup = context_setup() or self._state.active
        for site in self._feeds:
            site._parallel_input = args[0]
        if not setup or not (self.lora or self.bottleneck):
            return None
        x = args[0]
        for name in setup:
            lora = self.lora[name] if name in self.lora else None
            if lora is not None and not lora.merged:
                output = lora(x, output)
        for name in setup:
            if name in self.bottleneck:
                output = self.bottleneck[name](output, self._parallel_source(name))
        self._parallel_input = None  # do not keep activations alive past this forward
        return output

    def _parallel_source(self, name: str) -> torch.Tensor | None:
        if not self._state.configs[name].is_parallel:
            return None
        if self._parallel_input is None:
            raise RuntimeError(f"parallel adapter {name!r} at {self.location} ran before its FFN input was seen")
        return self._parallel_input


def site_of(module: nn.Module) -> AdapterSite | None:
    return getattr(module, SITE_ATTRIBUTE, None)


def attach_site(module: nn.Module, state: AdapterState, layer_index: int, location: str) -> AdapterSite:
    """The site on ``module``, created and hooked on first use."""
    site = site_of(module)
    if site is None:
        site = AdapterSite(state, layer_index, location)
        setattr(module, SITE_ATTRIBUTE, site)
        module.register_forward_hook(site.hook)
    return site


def detach_if_empty(module: nn.Module) -> None:
    """Remove the site and its hook once no adapter is left on it, so the model is as before."""
    site = site_of(module)
    if site is None or not site.is_empty():
        return
    for key, hook in list(module._forward_hooks.items()):
        if getattr(hook, "__self__", None) is site:
            del module._forward_hooks[key]
    delattr(module, SITE_ATTRIBUTE)
