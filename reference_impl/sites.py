"""Adapter sites: the adapters attached to one module of the model, run by one forward hook on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .composition import Average, BatchSplit, Fuse, Parallel, Split, Stack
from .context import context_setup


if TYPE_CHECKING:
    from .state import AdapterState

SITE_ATTRIBUTE = "adapter_site"
STAGES = (0, 1)
FUSION = "fusion"  # the site entry holding AdapterFusion modules, keyed by the fusion name ("a,b")


class AdapterSite(nn.ModuleDict):
    """Adapters on one module, as ``site[family][adapter_name]``, applied to the module's output.

    Within the active setup, adapters of stage 0 (updates computed from the module's input, LoRA) run before those of
    stage 1 (transformations of the output, bottleneck adapters), each stage in setup order. A site on the module
    whose input is a sub-layer's residual input hands that input to the bottleneck sites listed in ``_feeds``.
    """

    def __init__(self, state: AdapterState, layer_index: int, location: str):
        super().__init__()
        self._state = state  # shared with the model and every other site; a plain attribute, not a submodule
        self.layer_index = layer_index
        self.location = location
        self._feeds: list[AdapterSite] = []
        self.residual_input: torch.Tensor | None = None

    def family(self, name: str) -> nn.ModuleDict:
        if name not in self:
            self[name] = nn.ModuleDict()
        return self[name]

    def is_empty(self) -> bool:
        return not any(len(family) for family in self.values()) and not self._feeds

    def adapters(self, name: str) -> dict[str, nn.Module]:
        """This site's modules of adapter ``name``, by family."""
        return {family_name: family[name] for family_name, family in self.items() if name in family}

    def remove(self, name: str) -> None:
        for family_name in list(self.keys()):
            if name in self[family_name]:
                del self[family_name][name]
            if not len(self[family_name]):
                del self[family_name]

    def hook(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        for site in self._feeds:
            site.residual_input = args[0]
        setup = context_setup() or self._state.active
        if setup is None or not len(self):
            return None
        main, rest = (output[0], output[1:]) if isinstance(output, tuple) else (output, None)
        x = args[0] if args else None
        for stage in self._stages(setup):
            main = self._compose(setup, x, main, stage)
        self.residual_input = None  # do not keep activations alive past this forward
        return main if rest is None else (main, *rest)

    def _stages(self, setup: Any) -> list[int]:
        """The stages the setup's adapters have here: a block runs only where an adapter of it acts (an Average of
        unchanged outputs would scale them by its weights' sum)."""
        names = (setup,) if isinstance(setup, str) else setup.flatten()
        found = set()
        for family_name, family in self._modules.items():  # _modules: what items() yields, without its overhead
            if family_name != FUSION:
                members = family._modules
                found.update(members[name].stage for name in names if name in members)
        return [stage for stage in STAGES if stage in found]

    # ----- composition: each block type says how its children share one adapter layer -----
    def _compose(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        if isinstance(block, str):
            return self._run_adapter(block, x, output, stage)
        return _RUNNERS[type(block)](self, block, x, output, stage)

    def _run_adapter(self, name: str, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        for family_name, family in self._modules.items():
            adapter = family._modules.get(name) if family_name != FUSION else None
            if adapter is not None and adapter.stage == stage:
                output = adapter.apply(x, output, self)
        return output

    def _stack(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        for child in block:
            output = self._compose(child, x, output, stage)
        return output

    def _slices(
        self, block: Any, x: Any, output: torch.Tensor, stage: int, sizes: list[int], dim: int
    ) -> torch.Tensor:
        rows = self._state.batch_rows
        if output.dim() == 2 and rows and output.shape[0] % rows == 0:
            # batch and sequence flattened into one axis (OPT's FFN): cut on the (batch, sequence) grid
            whole, grid = self.residual_input, _grid(output, rows)
            self.residual_input = _grid(whole, rows)
            try:
                return self._slices(block, _grid(x, rows), grid, stage, sizes, dim).flatten(0, 1)
            finally:
                self.residual_input = whole
        if sum(sizes) != output.shape[dim]:
            what = "batch size" if dim == 0 else "sequence length"
            raise ValueError(f"{block!r} covers {sum(sizes)} along the {what}, but the input has {output.shape[dim]}")
        outs = output.split(sizes, dim=dim)
        xs = _split_like(x, sizes, dim)
        whole_residual_input = self.residual_input
        parts = []
        for child, xi, oi, pi in zip(block, xs, outs, _split_like(whole_residual_input, sizes, dim), strict=True):
            self.residual_input = pi  # the residual is sliced like the output it belongs to
            parts.append(self._compose(child, xi, oi, stage))
        self.residual_input = whole_residual_input
        return torch.cat(parts, dim=dim)

    def _parallel(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        branches, rows = len(block), output.shape[0]
        if output.dim() == 2 and self._state.batch_rows:  # batch and sequence flattened: _slices cuts the grid
            rows = self._state.batch_rows
        if rows % branches:
            raise RuntimeError(f"{block!r}: the batch ({rows}) was not replicated once per branch")
        size = rows // branches
        return self._slices(block, x, output, stage, [size] * branches, dim=0)

    def _batch_split(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        return self._slices(block, x, output, stage, list(block.batch_sizes), dim=0)

    def _split(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        return self._slices(block, x, output, stage, list(block.splits), dim=1)

    def _average(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        outs = [self._compose(child, x, output, stage) for child in block]
        return sum(w * o for w, o in zip(block.weights, outs, strict=True))

    def _fuse(self, block: Any, x: Any, output: torch.Tensor, stage: int) -> torch.Tensor:
        """AdapterFusion as AdapterHub defines it: attention from the last adapter's input (the query) over the
        adapters' bottleneck outputs (keys and values), added to the last adapter's residual."""
        fusions = self[FUSION] if FUSION in self else {}
        if stage == 0 or block.name not in fusions:
            return output  # this layer has no fused adapters (or no stage-0 part of them)
        ups, query, residual, last = [], None, None, None
        for child in block:
            if isinstance(child, str):
                last = self._fusable(child)
                query, residual, up = last.parts(output, self)
            else:  # a Stack child: its bottleneck output is what it adds to the residual
                up = last.branch(self._compose(child, x, output, stage)) - residual if residual is not None else None
                if up is None:
                    raise ValueError(f"{block!r}: put an adapter before the Stack {child!r} in the fusion")
            ups.append(up)
        return last.finish(fusions[block.name](query, torch.stack(ups), residual), self)

    def _fusable(self, name: str) -> Any:
        for family_name, family in self.items():
            if family_name != FUSION and name in family and hasattr(family[name], "parts"):
                return family[name]
        raise ValueError(f"adapter {name!r} has no bottleneck adapter at {self.location} to fuse")


def _grid(value: Any, rows: int) -> Any:
    """A (batch * sequence, ...) tensor as (batch, sequence, ...); anything else as it is."""
    return value.unflatten(0, (rows, -1)) if isinstance(value, torch.Tensor) and value.dim() == 2 else value


def _split_like(value: Any, sizes: list[int], dim: int) -> list[Any]:
    if isinstance(value, torch.Tensor):
        return list(value.split(sizes, dim=dim))
    return [value] * len(sizes)


_RUNNERS = {
    Stack: AdapterSite._stack,
    Parallel: AdapterSite._parallel,
    BatchSplit: AdapterSite._batch_split,
    Split: AdapterSite._split,
    Average: AdapterSite._average,
    Fuse: AdapterSite._fuse,
}


def site_of(module: nn.Module) -> AdapterSite | None:
    # a site is a submodule: read it from _modules, not through getattr, whose miss (most modules) raises inside
    # nn.Module.__getattr__; sites(model) asks every module of the model
    children = getattr(module, "_modules", None)
    site = children.get(SITE_ATTRIBUTE) if children is not None else getattr(module, SITE_ATTRIBUTE, None)
    return site if isinstance(site, AdapterSite) else None


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


def sites(model: nn.Module) -> list[tuple[nn.Module, AdapterSite]]:
    """Every (hooked module, site) pair of the model."""
    return [(module, site) for module in model.modules() if (site := site_of(module)) is not None]


def adapter_name_in_key(key: str) -> str | None:
    """The adapter a parameter key belongs to (``...adapter_site.<family>.<name>...``), or None for base weights."""
    parts = key.split(".")
    if SITE_ATTRIBUTE not in parts:
        return None
    at = parts.index(SITE_ATTRIBUTE)
    return parts[at + 2] if len(parts) > at + 2 else None


def rename_adapter_in_key(key: str, new_name: str) -> str:
    parts = key.split(".")
    at = parts.index(SITE_ATTRIBUTE)
    parts[at + 2] = new_name
    return ".".join(parts)
