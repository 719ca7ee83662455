"""What families need outside the layer sites: a home for model-level modules, and hooks of their own.

A *holder* is an ``AdapterSite`` on the base model with no forward hook: it keeps model-level modules (shared PHM
weights, invertible adapters, soft prompts) under the usual ``adapter_site.<family>.<name>`` keys, so that
``adapter_parameters``, saving, loading, averaging and deleting treat them like any other adapter weights. The family
runs them from hooks of its own (``ModelHook``), installed in ``MethodFamily.attach`` and removed in
``MethodFamily.on_delete``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from architectures.live import base_model, get_path

from ..context import context_setup
from ..sites import SITE_ATTRIBUTE, AdapterSite, site_of, sites


if TYPE_CHECKING:
    from ..composition import CompositionBlock
    from ..state import AdapterState


MODEL_LEVEL = -1  # the layer index of model-level modules in get_adapter()
HOLDER_LOCATION = "model"


# ----- the adapters in force -----
def current_setup(state: AdapterState) -> CompositionBlock | None:
    return context_setup() or state.active


def active_names(state: AdapterState) -> tuple[str, ...]:
    """Every adapter of the setup in force, depth first (a composition block's ``flatten``)."""
    setup = current_setup(state)
    return () if setup is None else tuple(setup.flatten())


# ----- holders -----
def holder_module(model: nn.Module) -> nn.Module:
    return base_model(model)


def holder_site(module: nn.Module, state: AdapterState, layer_index: int, location: str) -> AdapterSite:
    """The site on ``module`` that only holds adapters: created on first use, never hooked."""
    site = site_of(module)
    if site is None:
        site = AdapterSite(state, layer_index, location)
        setattr(module, SITE_ATTRIBUTE, site)
    return site


def held(model: nn.Module, family: str) -> dict[str, nn.Module]:
    """The model-level modules of ``family`` on the holder, by adapter name."""
    site = site_of(holder_module(model))
    if site is None or family not in site:
        return {}
    return dict(site[family].items())


def modules_of(model: nn.Module, family: str, name: str) -> Iterator[nn.Module]:
    """Every module of adapter ``name`` that ``family`` built, on any site."""
    for _, site in sites(model):
        module = site.adapters(name).get(family)
        if module is not None:
            yield module


# ----- hooks outside the sites -----
class ModelHook:
    """Hooks on one module that a family installs itself. ``pre`` (with kwargs) and ``post`` are optional.

    The hook object is stored on the module under ``attribute`` (so copies of the model keep it) and its hooks are
    found again by identity when it is removed.
    """

    attribute: ClassVar[str] = ""
    prepend: ClassVar[bool] = False  # run the pre-hook before hooks registered earlier

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return None

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        return None


def install_hook(module: nn.Module, hook: ModelHook) -> ModelHook:
    """Install ``hook`` on ``module`` unless a hook of its kind is there already; returns the one in place."""
    existing = getattr(module, hook.attribute, None)
    if existing is not None:
        return existing
    setattr(module, hook.attribute, hook)
    if type(hook).pre is not ModelHook.pre:
        module.register_forward_pre_hook(hook.pre, with_kwargs=True, prepend=hook.prepend)
    if type(hook).post is not ModelHook.post:
        module.register_forward_hook(hook.post)
    return hook


def remove_hook(module: nn.Module, attribute: str) -> None:
    """Remove the hook object stored under ``attribute`` and every hook of it, if there is one."""
    hook = getattr(module, attribute, None)
    if hook is None:
        return
    for hooks, extras in (
        (module._forward_pre_hooks, (module._forward_pre_hooks_with_kwargs,)),
        (module._forward_hooks, (module._forward_hooks_with_kwargs, module._forward_hooks_always_called)),
    ):
        for key, fn in list(hooks.items()):
            if getattr(fn, "__self__", None) is hook:
                del hooks[key]
                for extra in extras:
                    extra.pop(key, None)
    delattr(module, attribute)


# ----- where the inputs go in -----
def stack_hosts(model: nn.Module, state: AdapterState) -> list[tuple[nn.Module, bool]]:
    """The modules that take a stack's token ids and attention mask, with True for a decoder of an encoder-decoder.

    Encoder-only and decoder-only models have one: the base model, or the module between it and the layer stack
    that takes the token ids too (OPT's ``decoder``: OPTForCausalLM calls ``model.decoder``, never the base model's
    forward). Encoder-decoder models have their encoder and decoder (``get_encoder`` / ``get_decoder``).
    """
    base = base_model(model)
    if not state.spec.is_encoder_decoder:
        return [(_token_host(base, state.layout.stacks[0].path), False)]
    try:
        return [(base.get_encoder(), False), (base.get_decoder(), True)]
    except (AttributeError, NotImplementedError) as err:
        raise ValueError(
            f"{type(base).__name__}: an encoder-decoder model needs get_encoder() and get_decoder(): {err}"
        ) from None


def _token_host(base: nn.Module, stack_path: str) -> nn.Module:
    """The innermost module on the way from ``base`` to the layer stack at ``stack_path`` whose forward takes
    ``input_ids`` (``base`` when none below it does: BERT's encoder takes hidden states)."""
    host = module = base
    for part in stack_path.split(".")[:-1]:
        module = getattr(module, part)
        if "input_ids" in inspect.signature(module.forward).parameters:
            host = module
    return host


def input_embeddings(host: nn.Module, model: nn.Module, state: AdapterState) -> nn.Module:
    """The module that turns ``host``'s token ids into vectors (the spec's ``embeddings`` path as a fallback)."""
    try:
        found = host.get_input_embeddings() if hasattr(host, "get_input_embeddings") else None
    except NotImplementedError:  # transformers 5.x raises where a model has no token embeddings (wav2vec2)
        found = None
    return found if isinstance(found, nn.Module) else get_path(base_model(model), state.layout.embeddings)


def keyword_arguments(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``args`` and ``kwargs`` of a call of ``module`` as one keyword dict (names read off its ``forward``)."""
    if not args:
        return dict(kwargs)
    positional = [
        p.name
        for p in inspect.signature(module.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(args) > len(positional):
        raise TypeError(f"{type(module).__name__}.forward got {len(args)} positional arguments")
    return {**dict(zip(positional, args, strict=False)), **kwargs}


CACHE_ARGUMENTS = ("past_key_values", "cache")  # transformers 5.x renames past_key_values to cache


def cached_length(kwargs: dict[str, Any]) -> int:
    """How many positions the key/value cache passed in ``kwargs`` holds already (0 without one)."""
    for key in CACHE_ARGUMENTS:
        cache = kwargs.get(key)
        if cache is None:
            continue
        if hasattr(cache, "get_seq_length"):
            return int(cache.get_seq_length())
        if isinstance(cache, (tuple, list)) and cache and isinstance(cache[0], (tuple, list)) and cache[0]:
            first = cache[0][0]
            return int(first.shape[-2]) if isinstance(first, torch.Tensor) else 0
    return 0
