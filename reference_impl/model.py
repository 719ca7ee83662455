"""``init(model)`` and the adapter methods it gives a plain transformers model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from architectures import registry
from architectures.live import resolve_layout
from architectures.spec import ArchitectureSpec
from architectures.versions import checkpoints_reentrantly_by_default

from . import averaging, checkpointing, full_model, persistence
from .composition import CompositionBlock, Fuse, Parallel
from .configs import AdapterConfig, resolve_config
from .context import parse_setup
from .forward_context import ParallelGenerationMixin, install_forward_hooks
from .fusion_model import FusionMixin
from .methods import family_of
from .methods.model_level import holder_site
from .sites import adapter_name_in_key, attach_site, detach_if_empty, sites
from .snapshot import AdapterSnapshot
from .state import AdapterState


def _blocks(block: CompositionBlock) -> list[CompositionBlock]:
    found = [block]
    for child in block:
        if isinstance(child, CompositionBlock):
            found += _blocks(child)
    return found


class ModelAdaptersMixin(FusionMixin):
    """Adapter methods, mixed into the class of a model by ``init``. Names follow AdapterHub ``adapters``."""

    adapter_state: AdapterState

    # ----- adding and removing -----
    def add_adapter(
        self,
        name: str,
        config: str | dict | AdapterConfig | None = None,
        overwrite_ok: bool = False,
        set_active: bool = False,
    ) -> None:
        """Add a new adapter ``name`` of ``config`` (a config, its string name or dict; default ``"seq_bn"``)."""
        config = resolve_config("seq_bn" if config is None else config)
        _check_name(name)
        if name in self.adapter_state.configs and not overwrite_ok:
            raise ValueError(f"an adapter named {name!r} exists already; pass overwrite_ok=True to replace it")
        family = family_of(config)
        parts = _parts(config)  # a union (ConfigUnion, MAM, UniPELT) adds each part with its own family
        found = [(fam, part, place) for fam, part in parts for place in fam.placements(self.adapter_state, self, part)]
        if not found:
            leave_out = list(config.leave_out)
            raise ValueError(f"adapter {name!r}: config {config.name!r} with leave_out={leave_out} adapts no layer")
        # the adapter being replaced comes back if the new one fails, at any point
        previous = AdapterSnapshot.take(self, name) if name in self.adapter_state.configs else None
        if previous is not None:
            self.delete_adapter(name)
        generators = {id(part): _generator(part) for _, part in parts}
        device, dtype = _device_dtype(self)
        try:
            for part_family, part, place in found:
                attach = attach_site if place.hooked else holder_site
                site = attach(place.module, self.adapter_state, place.layer_index, place.location)
                adapter = part_family.build(part, place, self.adapter_state, generators[id(part)])
                # a new module follows the model's mode: no dropout in an adapter added to a model in eval mode
                site.family(part_family.name)[name] = _follow(adapter, device, dtype, self.training)
                if place.feeder is not None:
                    feeder = attach_site(
                        place.feeder, self.adapter_state, place.layer_index, place.location + ".input"
                    )
                    if site not in feeder._feeds:
                        feeder._feeds.append(site)
            self.adapter_state.configs[name] = config
            family.attach(self, self.adapter_state, name)
        except BaseException:
            self._discard(name, family)  # a half-built adapter must not stay behind
            if previous is not None:
                previous.restore(self)
            raise
        if set_active:
            self.set_active_adapters(name)

    def delete_adapter(self, name: str) -> None:
        """Remove adapter ``name``: its modules, parameters, hooks and config; the model is as before it was added."""
        family = family_of(self._require(name))
        for fusion in [f for f in self.adapter_state.fusions if name in f.split(",")]:
            self.delete_adapter_fusion(fusion)
        self._discard(name, family)
        active = self.adapter_state.active
        if active is not None and name in active.flatten():
            names_only = all(isinstance(child, str) for child in active)
            remaining = [n for n in active if n != name] if names_only else []
            self.adapter_state.active = parse_setup(remaining) if remaining else None

    def _discard(self, name: str, family: Any) -> None:
        for _, site in sites(self):
            site.remove(name)
        for module, site in sites(self):
            site._feeds = [fed for fed in site._feeds if not fed.is_empty()]
            detach_if_empty(module)
        self.adapter_state.configs.pop(name, None)
        family.on_delete(self, self.adapter_state)

    # ----- activation -----
    def set_active_adapters(self, adapter_setup: str | list[str] | CompositionBlock | None) -> None:
        """Run ``adapter_setup`` in every forward: a name, a list of names (a Stack), a composition block, or None."""
        self.adapter_state.active = self._checked_setup(adapter_setup)

    def _checked_setup(self, adapter_setup: Any) -> CompositionBlock | None:
        """The parsed setup, after checking that every adapter exists and its method supports each block."""
        setup = parse_setup(adapter_setup)
        if setup is not None:
            self._check_block(setup)
            if sum(1 for block in _blocks(setup) if isinstance(block, Parallel)) > 1:
                raise ValueError(f"{setup!r}: one Parallel block per setup is supported")
        return setup

    def _check_block(self, block: CompositionBlock) -> None:
        kind = type(block).__name__
        if isinstance(block, Fuse) and block.name not in self.adapter_state.fusions:
            raise ValueError(f"no fusion {block.name!r}; add it first with add_adapter_fusion(Fuse({block.name!r}))")
        for child in block:
            if isinstance(child, CompositionBlock):
                self._check_block(child)
                continue
            family = family_of(self._require(child))
            if kind not in family.supported_blocks:
                supported = ", ".join(sorted(family.supported_blocks))
                raise ValueError(
                    f"{kind} cannot hold adapter {child!r}: {self.adapter_state.configs[child].name!r} adapters "
                    f"support only {supported}"
                )

    @property
    def active_adapters(self) -> CompositionBlock | None:
        return self.adapter_state.active

    @property
    def adapters_config(self) -> dict[str, AdapterConfig]:
        return dict(self.adapter_state.configs)

    def get_adapter(self, name: str) -> dict[int, dict[str, nn.Module]]:
        """The modules of adapter ``name``: ``{layer_index: {location: module}}``."""
        self._require(name)
        found: dict[int, dict[str, nn.Module]] = {}
        for _, site in sites(self):
            for family, module in site.adapters(name).items():
                found.setdefault(site.layer_index, {})[f"{site.location}.{family}"] = module
        return found

    def adapter_parameters(self, name: str) -> dict[str, nn.Parameter]:
        """The parameters of adapter ``name``, by their name in the model."""
        self._require(name)
        return {key: param for key, param in self.named_parameters() if adapter_name_in_key(key) == name}

    # ----- training -----
    def freeze_model(self, freeze: bool = True) -> None:
        """Freeze (or unfreeze) every parameter of the model, adapters included."""
        for param in self.parameters():
            param.requires_grad_(not freeze)

    def train_adapter(self, adapter_setup: str | list[str] | CompositionBlock) -> None:
        """Train only the adapters of ``adapter_setup``: freeze everything else, activate it, training mode."""
        setup = self._checked_setup(adapter_setup)
        if setup is None:
            raise ValueError("train_adapter needs at least one adapter")
        self.freeze_model(True)
        for name in setup.flatten():
            for param in self.adapter_parameters(name).values():
                param.requires_grad_(True)
        self.adapter_state.active = setup
        self.train()

    # ----- merging -----
    def merge_adapter(self, name: str) -> None:
        """Write adapter ``name`` into the weights it adapts; it then no longer runs as a separate module."""
        self._require_mergeable(name)
        for module, site in sites(self):
            for adapter in site.adapters(name).values():
                adapter.merge_into(module)

    def reset_adapter(self, name: str) -> None:
        """Undo ``merge_adapter(name)``: take its update out of the weights again."""
        self._require_mergeable(name)
        for module, site in sites(self):
            for adapter in site.adapters(name).values():
                others = any(
                    getattr(other, "merged", False)
                    for family in site.values()
                    for key, other in family.items()
                    if key != name
                )
                adapter.unmerge_from(module, others)

    # ----- saving and loading -----
    def save_adapter(self, save_directory: str | Path, adapter_name: str, format: str = "reference") -> None:
        """Write adapter ``adapter_name`` to ``save_directory``: config as JSON, weights as safetensors.

        ``format="adapters"`` writes AdapterHub ``adapters``' layout (``adapter_config.json``, ``adapter.safetensors``)
        for the methods ``reference_impl.interop.adapterhub`` maps; others are refused with a ValueError.
        """
        self._require(adapter_name)
        persistence.save_adapter(self, Path(save_directory), adapter_name, format)

    def load_adapter(
        self,
        load_directory: str | Path,
        load_as: str | None = None,
        set_active: bool = False,
        overwrite_ok: bool = False,
    ) -> persistence.LoadedAdapter:
        """Load an adapter saved by ``save_adapter``; returns its name and the missing and unexpected weight keys.

        A folder AdapterHub ``adapters`` saved (``adapter.safetensors`` or ``pytorch_adapter.bin``, the latter read only
        by torch's weights-only unpickler) loads too, for the methods ``reference_impl.interop.adapterhub`` maps.
        Nothing changes when loading fails.
        """
        return persistence.load_adapter(self, Path(load_directory), load_as, set_active, overwrite_ok)

    def average_adapter(
        self,
        adapter_name: str,
        adapter_list: list[str],
        weights: list[float] | None = None,
        normalize_weights: bool = True,
        overwrite_ok: bool = False,
        set_active: bool = False,
        combine_strategy: str = "linear",
    ) -> None:
        """Add ``adapter_name``, whose weights combine those of the adapters in ``adapter_list`` (one config).

        ``"linear"``: every parameter is the weighted sum of the sources' (weights normalised to sum 1 unless
        ``normalize_weights=False``). Each method family says which strategies it defines; where averaging is not
        defined, or the adapters differ in config, it raises ValueError and changes nothing.
        """
        averaging.average_adapter(
            self, adapter_name, adapter_list, weights, normalize_weights, overwrite_ok, set_active, combine_strategy
        )

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:
        """transformers' ``save_pretrained`` for the base model, plus every adapter, fusion and the active setup.

        Load it with ``reference_impl.load_model(directory, ModelClass)`` (or ``from_pretrained`` on this class).
        """
        full_model.save_pretrained(self, Path(save_directory), super().save_pretrained, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> Any:
        """The model ``save_pretrained`` wrote, with its adapters and active setup (see ``load_model``)."""
        return full_model.load_model(pretrained_model_name_or_path, cls, **kwargs)

    if checkpoints_reentrantly_by_default():

        def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None, **kwargs: Any):
            """transformers' method, non-reentrant unless ``gradient_checkpointing_kwargs`` say otherwise (5.x's
            default): a reentrant checkpoint passes no gradient through a tensor a layer gets by keyword, and 4.57's
            Whisper hands the encoder output to its decoder layers so (encoder adapters then fail to train)."""
            if gradient_checkpointing_kwargs is None:
                gradient_checkpointing_kwargs = {"use_reentrant": False}
            return super().gradient_checkpointing_enable(gradient_checkpointing_kwargs, **kwargs)

    def _set_gradient_checkpointing(self, enable: bool = True, *args: Any, **kwargs: Any) -> None:
        # Every transformers line switches checkpointing on and off through this method; see checkpointing.py.
        super()._set_gradient_checkpointing(enable, *args, **kwargs)
        checkpointing.set_embedding_grads(self, enable)

    # ----- helpers -----
    def _require_mergeable(self, name: str) -> None:
        config = self._require(name)
        if not family_of(config).mergeable:
            raise ValueError(f"adapter {name!r} is a {config.name!r} adapter, which cannot be merged into the weights")

    def _require(self, name: str) -> AdapterConfig:
        configs = self.adapter_state.configs
        if name not in configs:
            known = ", ".join(sorted(configs)) or "none"
            raise ValueError(f"no adapter named {name!r}; adapters of this model: {known}")
        return configs[name]


# Adapters are kept in torch ModuleDicts keyed by their name: a name that is an attribute there ("keys", "to") fails.
_RESERVED_NAMES = frozenset(dir(nn.ModuleDict()))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "." in name or "," in name or name != name.strip():
        raise ValueError(f"adapter name {name!r}: use a non-empty name without dots, commas or outer spaces")
    if name in _RESERVED_NAMES:
        raise ValueError(f"adapter name {name!r} is reserved (an attribute of torch.nn.ModuleDict); choose another")


def _parts(config: AdapterConfig) -> list[tuple[Any, AdapterConfig]]:
    """(family, config) pairs to add: the config's parts for a union, else the config with its own family."""
    family = family_of(config)
    return family.parts(config) if hasattr(family, "parts") else [(family, config)]


def _generator(config: AdapterConfig) -> torch.Generator | None:
    seed = getattr(config, "init_weights_seed", None)
    return torch.Generator().manual_seed(seed) if seed is not None else None


def _device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(model.parameters())
    return param.device, param.dtype


def _follow(module: nn.Module, device: torch.device, dtype: torch.dtype, training: bool) -> nn.Module:
    """``module.to(device=device, dtype=dtype).train(training)``, skipping what is a no-op already (both walk the
    whole module tree, a good part of what adding an adapter to a small model costs)."""
    tensors = [*module.parameters(), *module.buffers()]
    if any(t.device != device or (t.is_floating_point() and t.dtype != dtype) for t in tensors):
        module = module.to(device=device, dtype=dtype)
    if any(m.training != training for m in module.modules()):
        module = module.train(training)
    return module


_ADAPTER_CLASSES: dict[type, type] = {}


def _adapter_class(cls: type) -> type:
    if cls not in _ADAPTER_CLASSES:
        mixins = (ModelAdaptersMixin, ParallelGenerationMixin) if hasattr(cls, "generate") else (ModelAdaptersMixin,)
        # transformers_class: what from_pretrained builds before init() adds the adapters again
        namespace = {"__module__": cls.__module__, "transformers_class": cls}
        _ADAPTER_CLASSES[cls] = type(cls.__name__, (*mixins, cls), namespace)
    return _ADAPTER_CLASSES[cls]


def init(model: nn.Module, spec: ArchitectureSpec | None = None) -> nn.Module:
    """Give ``model`` (any class of a registered architecture) the adapter methods. Returns the same object."""
    if getattr(model, "adapter_state", None) is not None:
        return model
    if getattr(model, "config", None) is None:
        raise TypeError(f"init() adapts transformers models (with a .config); got {type(model).__name__}")
    if spec is None:
        model_type = getattr(model.config, "model_type", None)
        try:
            spec = registry.get(model_type)
        except KeyError as err:
            raise ValueError(
                f"{type(model).__name__}: {err.args[0]}; pass spec= for an architecture of your own"
            ) from None
    layout = resolve_layout(spec, model)
    config = model.config  # a composite config (EncoderDecoderConfig, CLIPConfig) answers through its sub-configs
    model.adapter_state = AdapterState(
        spec=spec,
        layout=layout,
        hidden_size=spec.config_value(config, "hidden_size"),
        num_heads=spec.config_value(config, "num_attention_heads"),
    )
    if not isinstance(model, ModelAdaptersMixin):  # classes that inherit the mixin (the adapter model) keep theirs
        model.__class__ = _adapter_class(type(model))
    install_forward_hooks(model)
    return model
