"""The contract of the oracles: an adapter, by its definition, is a set of edits to a plain model.

An ``Edit`` changes the output of one module of the plain model (a forward hook). Oracles build their edits from
an adapter's canonical weights and the config dict the suite added it with; ``conformance.oracles.compose`` applies
the edits of several adapters as a composition block says (Stack, Average, Split, ...). A ``Region`` tells an edit
which rows (batch) or positions (sequence) of the full activation the branch it runs for sees, so that tensors an
oracle captured elsewhere in the forward pass can be sliced alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from architectures.live import get_path


@dataclass(frozen=True)
class Region:
    """The part of a full activation a branch sees: ``[start, stop)`` along ``dim`` (None: all of it)."""

    dim: int | None = None
    start: int = 0
    stop: int = 0

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.dim is None:
            return tensor
        return tensor.narrow(self.dim, self.start, self.stop - self.start)


WHOLE = Region()

# (module args, module output, region) -> the new output. ``output`` is the module's main output tensor (the first
# element where the module returns a tuple), already restricted to the region; ``args`` are the full inputs.
EditFn = Callable[[tuple[Any, ...], torch.Tensor, Region], torch.Tensor]


@dataclass(frozen=True)
class Edit:
    """One adapter's change to the output of the module at ``path`` (relative to the model ``install`` gets)."""

    path: str
    fn: EditFn
    # 0: an update computed from the module's input (LoRA); 1: a transform of the output (bottleneck);
    # INPUT: a transform of the module's input, which the module then runs on (an invertible adapter's inverse before
    # the LM head); ``fn`` gets and returns that input, and a Stack applies these in reverse order (undoing)
    stage: int = 1


INPUT = -1  # the stage of an edit of a module's input


@dataclass
class Captures:
    """Tensors an oracle reads off the plain forward pass (e.g. the residual stream before a layer norm)."""

    values: dict[str, torch.Tensor] = field(default_factory=dict)
    paths: list[tuple[str, Callable[[tuple[Any, ...]], torch.Tensor], str]] = field(default_factory=list)

    # like ``paths``, with ``pick(args, kwargs)``: for what a module gets as a keyword (a model's attention mask)
    calls: list[tuple[str, Callable[[tuple[Any, ...], dict[str, Any]], Any], str]] = field(default_factory=list)

    def on_input(self, path: str, pick: Callable[[tuple[Any, ...]], torch.Tensor], name: str) -> None:
        """Record ``pick(args)`` of the module at ``path`` under ``name`` each time it runs."""
        self.paths.append((path, pick, name))

    def on_call(self, path: str, pick: Callable[[tuple[Any, ...], dict[str, Any]], Any], name: str) -> None:
        """Record ``pick(args, kwargs)`` of the module at ``path`` ("": the model itself) each time it runs."""
        self.calls.append((path, pick, name))

    def register(self, model: torch.nn.Module) -> list[Any]:
        """Install the recording pre-hooks on ``model``; returns their handles."""
        handles = []
        for path, pick, name in self.paths:

            def pre(module, args, pick=pick, name=name):
                self.values[name] = pick(args)

            handles.append(module_at(model, path).register_forward_pre_hook(pre))
        for path, pick, name in self.calls:

            def pre_call(module, args, kwargs, pick=pick, name=name):
                self.values[name] = pick(args, kwargs)

            handles.append(module_at(model, path).register_forward_pre_hook(pre_call, with_kwargs=True))
        return handles


def module_at(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """The module at ``path`` in ``model``; "" is the model itself."""
    return model if path == "" else get_path(model, path)


def main_tensor(output: Any) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    """The main tensor of a module output and a function that puts a replacement back in its place."""
    if isinstance(output, tuple):
        return output[0], lambda new: (new, *output[1:])
    return output, lambda new: new


class MethodOracle:
    """A method's definition, applied to a plain model of the spec's architecture.

    ``weights`` are the adapter's canonical tensors (``conformance.weights``); ``config`` is the config dict the
    suite added the adapter with. Defaults of fields the dict leaves out are the method's published defaults (as
    AdapterHub ``adapters`` documents them), written in the oracle module, never read from the implementation.
    """

    def edits(
        self, model: torch.nn.Module, spec: Any, weights: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> tuple[list[Edit], Captures | None]:
        """The forward hooks that make ``model`` (the plain model, base or head class) behave as with the adapter."""
        return [], None

    def prepare_inputs(
        self,
        model: torch.nn.Module,
        spec: Any,
        weights: dict[str, torch.Tensor],
        config: dict[str, Any],
        inputs: dict[str, Any],
    ) -> dict[str, Any]:
        """The model inputs that give the adapter's effect (prefix as past_key_values, prompt as inputs_embeds)."""
        return inputs

    def hooks(
        self,
        model: torch.nn.Module,
        spec: Any,
        weights: dict[str, torch.Tensor],
        config: dict[str, Any],
        inputs: dict[str, Any],
    ) -> contextlib.AbstractContextManager[None]:
        """Hooks of the oracle's own that output edits cannot express (pre-hooks that widen an attention's mask, a
        cut of the base model's outputs), in force around the forward pass; ``inputs`` are the unprepared inputs."""
        return contextlib.nullcontext()

    def finish_output(self, output: torch.Tensor, config: dict[str, Any], inputs: dict[str, Any]) -> torch.Tensor:
        """The compared output from the plain model's (e.g. without prompt positions)."""
        return output


@contextlib.contextmanager
def installed(model: torch.nn.Module, edits: Sequence[Edit], captures: Captures | None = None) -> Iterator[None]:
    """The plain ``model`` with ``edits`` applied (each module's edits in stage order, then in the given order)."""
    handles = []
    try:
        if captures is not None:
            handles += captures.register(model)
        by_path: dict[str, list[Edit]] = {}
        for edit in edits:
            by_path.setdefault(edit.path, []).append(edit)
        for path, group in by_path.items():
            ordered = sorted(group, key=lambda e: e.stage)

            def hook(module, args, output, ordered=ordered):
                main, put = main_tensor(output)
                if any(edit.stage == INPUT for edit in ordered):
                    x = args[0]
                    for edit in reversed([e for e in ordered if e.stage == INPUT]):
                        x = edit.fn(args, x, WHOLE)
                    main = module.forward(x)  # forward: no hook runs twice
                    args = (x, *args[1:])
                for edit in ordered:
                    if edit.stage != INPUT:
                        main = edit.fn(args, main, WHOLE)
                return put(main)

            handles.append(get_path(model, path).register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()
