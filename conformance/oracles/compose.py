"""Composition blocks by their definition: several adapters' oracle edits applied to one plain model as a
composition tree says, module by module.

At every module some adapter of the tree edits, each stage (0: updates from the module's input, LoRA; 1: transforms
of its output, bottleneck adapters) that any of them has there runs the whole tree:

- ``Stack(a, b)``: a's edit, then b's on a's result;
- ``Average(a, b, weights=w)``: ``sum_i w_i * edit_i(out)``, ``w`` divided by its sum unless
  ``normalize_weights=False`` (an adapter without an edit at that module leaves ``out`` as it is);
- ``Split(a, b, splits=s)``: sequence positions ``[0, s0)`` through a, the next ``s1`` through b;
- ``BatchSplit(a, b, batch_sizes=s)``: batch rows likewise;
- ``Parallel(a, b)``: the inputs are replicated once per branch (the output holds a's rows, then b's); each branch's
  rows go through its child;
- ``Fuse(a, b)`` (AdapterFusion, Pfeiffer et al., 2021, as AdapterHub computes it): with the last adapter's input
  ``x`` and residual, and each adapter's scaled bottleneck output ``up_i``,
  ``residual + sum_i softmax_i(Q(x) . K(up_i) / temperature) V(up_i)``; Q, K, V are the fusion's linear maps
  (identity where the fusion has none), read as ``<layer>.<site>.fusion.query.weight`` etc.

Methods that change the model's inputs compose in ``Stack`` only (the blocks the manifest expects of them): a Stack
of prefix adapters gives each attention the prefixes of all of them, concatenated in stack order (as AdapterHub
does); a Stack of prompt adapters puts each prompt at its own place, prompts at one place in stack order. A union's
parts go where their method's do: its prefix with the prefixes, its other parts as module edits.

The tree is the suite's own (``Stack``, ``Average``, ... below); ``to_impl`` builds the implementation's blocks from it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from architectures.live import get_path
from conformance.models import main_output

from . import prefix_tuning, prompt_tuning, union
from .base import INPUT, Captures, Edit, MethodOracle, Region, main_tensor
from .bottleneck import BottleneckEdit
from .registry import oracle_for


# Families whose adapters change the model's inputs, and the module composing several of them in a Stack
INPUT_FAMILIES = {"prefix_tuning": prefix_tuning, "prompt_tuning": prompt_tuning}
UNIONS = ("union", "mam", "unipelt")


# ----- the suite's composition tree -----
@dataclass(frozen=True, init=False)
class Block:
    children: tuple[Any, ...]

    def __init__(self, *children: Any):
        object.__setattr__(self, "children", tuple(children))

    def names(self) -> list[str]:
        found: list[str] = []
        for child in self.children:
            found += [child] if isinstance(child, str) else child.names()
        return found


class Stack(Block):
    pass


class Parallel(Block):
    pass


class Fuse(Block):
    @property
    def name(self) -> str:
        return ",".join(self.children)


@dataclass(frozen=True, init=False)
class Split(Block):
    splits: tuple[int, ...] = ()

    def __init__(self, *children: Any, splits: Sequence[int]):
        super().__init__(*children)
        object.__setattr__(self, "splits", tuple(splits))


@dataclass(frozen=True, init=False)
class BatchSplit(Block):
    batch_sizes: tuple[int, ...] = ()

    def __init__(self, *children: Any, batch_sizes: Sequence[int]):
        super().__init__(*children)
        object.__setattr__(self, "batch_sizes", tuple(batch_sizes))


@dataclass(frozen=True, init=False)
class Average(Block):
    weights: tuple[float, ...] | None = None
    normalize_weights: bool = True

    def __init__(self, *children: Any, weights: Sequence[float] | None = None, normalize_weights: bool = True):
        super().__init__(*children)
        object.__setattr__(self, "weights", None if weights is None else tuple(weights))
        object.__setattr__(self, "normalize_weights", normalize_weights)

    def effective_weights(self) -> list[float]:
        if self.weights is None:
            return [1.0 / len(self.children)] * len(self.children)
        if not self.normalize_weights:
            return list(self.weights)
        return [w / sum(self.weights) for w in self.weights]


def to_impl(tree: Any, blocks: Any) -> Any:
    """The implementation's block for ``tree``; ``blocks`` is ``impl.composition()``."""
    if isinstance(tree, str):
        return tree
    children = [to_impl(child, blocks) for child in tree.children]
    cls = getattr(blocks, type(tree).__name__)
    if isinstance(tree, Split):
        return cls(*children, splits=list(tree.splits))
    if isinstance(tree, BatchSplit):
        return cls(*children, batch_sizes=list(tree.batch_sizes))
    if isinstance(tree, Average):
        weights = None if tree.weights is None else list(tree.weights)
        return cls(*children, weights=weights, normalize_weights=tree.normalize_weights)
    return cls(*children)


# ----- where a branch runs: nested cuts of the full activation -----
@dataclass(frozen=True)
class Window(Region):
    cuts: tuple[tuple[int, int, int], ...] = field(default=())
    # the batch size: a layer that flattens batch and sequence into one axis (OPT's FFN) has (batch * sequence, ...)
    # activations, cut as (batch, sequence, ...)
    rows: int | None = None

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.cuts and self.rows and tensor.dim() == 2:
            tensor = tensor.unflatten(0, (self.rows, -1))
        for dim, start, stop in self.cuts:
            tensor = tensor.narrow(dim, start, stop - start)
        return tensor

    def narrow(self, dim: int, start: int, stop: int) -> Window:
        return Window(cuts=(*self.cuts, (dim, start, stop)), rows=self.rows)


@dataclass(frozen=True)
class Fusion:
    """An AdapterFusion layer set: canonical tensors (``<layer>.<site>.fusion.query.weight``, ...) and temperature."""

    weights: Mapping[str, torch.Tensor]
    temperature: float = 1.0


class _Composer:
    def __init__(
        self, tree: Any, edits: dict[str, dict[str, list[Edit]]], fusions: Mapping[str, Fusion], rows: int | None
    ):
        self.tree = tree
        self.edits = edits  # adapter -> module path -> its edits there
        self.fusions = fusions
        self.rows = rows  # the batch size of the forward pass

    def stages(self, path: str) -> list[int]:
        return sorted({edit.stage for by_path in self.edits.values() for edit in by_path.get(path, ())})

    def hook(self, path: str):
        def run(module: Any, args: tuple[Any, ...], output: Any) -> Any:
            main, put = main_tensor(output)
            for stage in self.stages(path):
                if stage == INPUT:  # the module runs again on its edited input (forward: no hook runs twice)
                    args = (self.apply(self.tree, path, args, args[0], Window(rows=self.rows), stage), *args[1:])
                    main = module.forward(*args)
                    continue
                main = self.apply(self.tree, path, args, main, Window(rows=self.rows), stage)
            return put(main)

        return run

    def apply(self, node: Any, path: str, args: Any, out: torch.Tensor, window: Window, stage: int) -> torch.Tensor:
        if isinstance(node, str):
            for edit in self.edits[node].get(path, ()):
                if edit.stage == stage:
                    out = edit.fn(args, out, window)
            return out
        if isinstance(node, Stack):  # edits of the input undo: the last child's first
            for child in reversed(node.children) if stage == INPUT else node.children:
                out = self.apply(child, path, args, out, window, stage)
            return out
        if isinstance(node, Average):
            results = [self.apply(child, path, args, out, window, stage) for child in node.children]
            return sum(w * result for w, result in zip(node.effective_weights(), results, strict=True))
        if isinstance(node, (Split, BatchSplit, Parallel)) and out.dim() == 2 and window.rows and not window.cuts:
            # batch and sequence flattened into one axis (OPT's FFN): cut on the (batch, sequence) grid
            grid = out.unflatten(0, (window.rows, -1))
            return self.apply(node, path, args, grid, window, stage).flatten(0, 1)
        if isinstance(node, Split):
            return self._cut(node, node.splits, 1, path, args, out, window, stage)
        if isinstance(node, BatchSplit):
            return self._cut(node, node.batch_sizes, 0, path, args, out, window, stage)
        if isinstance(node, Parallel):
            rows = out.shape[0] // len(node.children)
            return self._cut(node, [rows] * len(node.children), 0, path, args, out, window, stage)
        if isinstance(node, Fuse):
            return self._fuse(node, path, args, out, window, stage)
        raise TypeError(f"not a composition block of the suite: {node!r}")

    def _cut(self, node, sizes, dim, path, args, out, window, stage) -> torch.Tensor:
        if sum(sizes) != out.shape[dim]:
            raise ValueError(f"{node!r} covers {sum(sizes)} along dim {dim}, the activation has {out.shape[dim]}")
        pieces, start = [], 0
        for child, size in zip(node.children, sizes, strict=True):
            part = out.narrow(dim, start, size)
            pieces.append(self.apply(child, path, args, part, window.narrow(dim, start, start + size), stage))
            start += size
        return torch.cat(pieces, dim=dim)

    def _fuse(self, node: Fuse, path: str, args: Any, out: torch.Tensor, window: Window, stage: int):
        if any(not isinstance(child, str) for child in node.children):
            raise NotImplementedError(f"{node!r}: the oracle fuses adapters, not nested blocks")
        found = [[e for e in self.edits[child].get(path, ()) if e.stage == stage] for child in node.children]
        if not any(found):
            return out
        if not all(len(edits) == 1 and isinstance(edits[0], BottleneckEdit) for edits in found):
            raise NotImplementedError(f"{node!r} at {path}: AdapterFusion is defined over one bottleneck per adapter")
        ups = []
        for (edit,) in found:  # the query and residual are the last adapter's, as in AdapterHub
            query, residual, up = edit.parts(args, out, window)
            ups.append(up)
        last = found[-1][0]
        fusion = self.fusions[node.name]
        prefix = f"{last.place}.fusion."
        tensors = {name[len(prefix) :]: value for name, value in fusion.weights.items() if name.startswith(prefix)}
        if fusion.weights and not tensors:
            raise KeyError(f"fusion {node.name!r} has no canonical tensors at {last.place}, where both adapters are")
        stacked = torch.stack(ups)  # (adapters, ..., hidden)
        q = _linear(tensors, "query", query)
        k = _linear(tensors, "key", stacked)
        v = _linear(tensors, "value", stacked)
        scores = torch.softmax((q.unsqueeze(0) * k).sum(-1) / fusion.temperature, dim=0)
        return last.finish(residual + (scores.unsqueeze(-1) * v).sum(0), window)


def _linear(tensors: Mapping[str, torch.Tensor], part: str, x: torch.Tensor) -> torch.Tensor:
    weight = tensors.get(f"{part}.weight")
    if weight is None:
        return x
    bias = tensors.get(f"{part}.bias")
    return x @ weight.T.to(x.dtype) + (0 if bias is None else bias.to(x.dtype))


def _parallel_channels(tree: Any) -> int:
    if isinstance(tree, str):
        return 0
    here = len(tree.children) if isinstance(tree, Parallel) else 0
    return max([here] + [_parallel_channels(child) for child in tree.children])


@torch.no_grad()
def composed_output(
    plain: torch.nn.Module,
    spec: Any,
    tree: Any,
    adapters: Mapping[str, tuple[dict[str, Any], dict[str, torch.Tensor]]],
    inputs: dict[str, Any],
    fusions: Mapping[str, Fusion] | None = None,
) -> torch.Tensor:
    """What a model outputs with ``tree`` active, by the definitions: ``adapters`` maps each name in the tree to
    (the config dict it was added with, its canonical weights); ``fusions`` each ``Fuse`` name to its fusion."""
    model = copy.deepcopy(plain)
    tree = Stack(tree) if isinstance(tree, str) else tree
    edits: dict[str, dict[str, list[Edit]]] = {}
    captures: list[Captures] = []
    members: dict[str, list[tuple[dict[str, torch.Tensor], dict[str, Any]]]] = {}  # family -> (weights, config)
    for name in dict.fromkeys(tree.names()):
        edits[name] = {}
        for config, weights in _parts(*adapters[name]):
            if config["config"] in INPUT_FAMILIES:
                if config.get("placement", "inputs_embeds") != "inputs_embeds":  # a run of its own (prompt_tuning)
                    raise NotImplementedError("the composition oracle places prompts as inputs_embeds only")
                members.setdefault(config["config"], []).append((weights, config))
                continue
            found, captured = _edits(model, spec, config, weights)
            for edit in found:
                edits[name].setdefault(edit.path, []).append(edit)
            if captured is not None:
                captures.append(captured)
    if members and not _only_stacks(tree):
        raise NotImplementedError(
            f"{tree!r}: {', '.join(members)} change the model's inputs; the composition oracle defines them in Stack only"
        )
    channels = _parallel_channels(tree)
    if channels:
        inputs = {
            k: v.repeat(channels, *([1] * (v.dim() - 1))) if torch.is_tensor(v) else v for k, v in inputs.items()
        }
    composer = _Composer(
        tree, edits, fusions or {}, next((v.shape[0] for v in inputs.values() if torch.is_tensor(v)), None)
    )
    prepared = dict(inputs)
    for family, stacked in members.items():
        prepared = INPUT_FAMILIES[family].prepare_inputs(model, spec, stacked, prepared)
    handles = []
    try:
        for captured in captures:
            handles += captured.register(model)
        for path in dict.fromkeys(p for by_path in edits.values() for p in by_path):
            handles.append(get_path(model, path).register_forward_hook(composer.hook(path)))
        with contextlib.ExitStack() as stack:
            for family, stacked in members.items():
                stack.enter_context(INPUT_FAMILIES[family].hooks(model, spec, stacked, inputs))
            return main_output(model(**prepared))
    finally:
        for handle in handles:
            handle.remove()


def _parts(config: dict[str, Any], weights: dict[str, torch.Tensor]) -> list[tuple[dict[str, Any], dict]]:
    """(config, canonical weights) of each part of a union; of the adapter itself otherwise."""
    if config["config"] not in UNIONS:
        return [(config, weights)]
    parts = union.parts_of(config)
    return list(zip(parts, union.split_weights(parts, weights), strict=True))


def _edits(model: Any, spec: Any, config: dict[str, Any], weights: dict[str, torch.Tensor]):
    """The module edits of one adapter (or union part) that leaves the inputs as they are."""
    if config.get("use_gating") and config["config"] in union.BOTTLENECKS + union.PROJECTION_METHODS:
        return union.gated_edits(model, spec, weights, config)
    oracle = oracle_for(config["config"])
    if config.get("inv_adapter_placement", "token_embeddings") != "token_embeddings":  # a pre-hook of its own
        raise NotImplementedError("the composition oracle places invertible adapters on the token embeddings only")
    if type(oracle).prepare_inputs is not MethodOracle.prepare_inputs:
        raise NotImplementedError(f"{config['config']} changes the model's inputs; the composition oracle cannot")
    return oracle.edits(model, spec, weights, config)


def _only_stacks(tree: Any) -> bool:
    return isinstance(tree, str) or (isinstance(tree, Stack) and all(_only_stacks(c) for c in tree.children))
