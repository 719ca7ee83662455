"""The adapter model: a base model of a registered architecture, adapters, and any number of flexible heads."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel

from architectures import registry
from architectures.heads import LM_HEADS, SEQUENCE_HEADS, default_pooling, head_types
from architectures.live import get_path, model_class
from architectures.spec import ArchitectureSpec

from ..composition import CompositionBlock, Parallel, Stack
from ..context import AdapterSetup, context_setup, parse_setup
from ..model import ModelAdaptersMixin, init
from ..persistence import LoadedAdapter, check_format
from . import files
from .config import HeadConfig
from .modules import PredictionHead, head_output, shift_right


_RESERVED_NAMES = frozenset(dir(nn.ModuleDict()))  # heads live in a ModuleDict: "keys" or "to" cannot be names
LABEL_INPUTS = ("labels", "start_positions", "end_positions")
CHOICE_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")


class AdapterModel(ModelAdaptersMixin, PreTrainedModel, GenerationMixin):
    """A base model (``BertModel``, ``T5Model``, ...) with adapters and flexible prediction heads: a transformers
    ``PreTrainedModel`` (``generate()``, gradient checkpointing, ``.to(dtype)``, attention implementations).

    The base model sits under its transformers prefix (``bert``, ``transformer``, ...), so its weights have the same
    names as in the static head classes. Heads live in ``heads``; ``active_head`` is the one ``forward`` runs, and it
    follows the active adapters: activating an adapter that has a head of the same name activates that head.
    Each architecture has its own subclass (``adapter_model_class``), carrying its base class's capabilities;
    ``AdapterModel(config)`` builds that subclass.
    """

    supports_gradient_checkpointing = True

    def __new__(cls, config: Any = None, spec: ArchitectureSpec | None = None, base_model: nn.Module | None = None):
        if cls is AdapterModel:  # (copies and unpickling call __new__ on the subclass, without arguments)
            cls = adapter_model_class(spec or spec_for(config))
        return super().__new__(cls)

    def __init__(self, config: Any, spec: ArchitectureSpec | None = None, base_model: nn.Module | None = None):
        spec = spec or spec_for(config)
        base_class = model_class(spec)
        if base_model is not None and type(base_model) is not base_class:
            raise ValueError(f"base_model must be a {base_class.__name__}, got {type(base_model).__name__}")
        base = base_model if base_model is not None else base_class(config)
        super().__init__(base.config)  # one config object: the base model and the adapter model share it
        setattr(self, self.base_model_prefix, base)
        self.heads = nn.ModuleDict()
        self._active_head: str | None = None
        init(self, spec)

    # ----- the base model -----
    def get_input_embeddings(self) -> nn.Module:
        try:
            return self.base_model.get_input_embeddings()
        except NotImplementedError:  # no token embeddings (wav2vec2): the spec's embeddings, what the layers read
            return get_path(self.base_model, self.adapter_state.layout.embeddings)

    def get_encoder(self) -> nn.Module:
        """The encoder of an encoder-decoder base model (generate() runs it once, before decoding)."""
        return self.base_model.get_encoder()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.base_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        head = self.heads[self._active_head] if self._active_head in self.heads else None
        return head.output if head is not None and head.config.head_type in LM_HEADS else None

    def _init_weights(self, module: nn.Module) -> None:
        """Nothing: the base model arrives initialised (or loaded) and heads initialise themselves."""

    def tie_weights(self, *args: Any, **kwargs: Any) -> None:
        """Heads with ``tie_output`` share the input embeddings' weight (again, after the embeddings changed)."""
        embeddings = self.get_input_embeddings()
        for head in self.heads.values():
            if head.config.tie_output:
                head.output.weight = embeddings.weight

    def resize_token_embeddings(self, new_num_tokens: int | None = None, *args: Any, **kwargs: Any) -> nn.Embedding:
        """Resize the base model's embeddings; tied LM heads follow, untied ones are resized alike (a tied head's
        output bias too: the tie shares the weight only)."""
        embeddings = self.base_model.resize_token_embeddings(new_num_tokens, *args, **kwargs)
        for head in self.heads.values():
            if head.config.head_type in LM_HEADS:
                head.resize_output(embeddings.weight.shape[0])
        self.tie_weights()
        return embeddings

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
        return (
            self.base_model.prepare_inputs_for_generation(input_ids, **kwargs)
            if hasattr(self.base_model, "prepare_inputs_for_generation")
            else GenerationMixin.prepare_inputs_for_generation(self, input_ids, **kwargs)
        )

    # ----- adding and removing heads -----
    @property
    def head_types(self) -> tuple[str, ...]:
        return head_types(self.adapter_state.spec)

    def add_head(
        self, head_name: str, config: HeadConfig | dict, overwrite_ok: bool = False, set_active: bool = True
    ) -> None:
        """Add head ``head_name`` built from ``config`` (a HeadConfig or its dict form)."""
        config = config if isinstance(config, HeadConfig) else HeadConfig.from_dict(config)
        self._check_new_head(head_name, config, overwrite_ok)
        self._install_head(head_name, self._build_head(config), set_active)

    def add_classification_head(
        self,
        head_name: str,
        num_labels: int = 2,
        layers: int = 2,
        activation_function: str | None = "tanh",
        overwrite_ok: bool = False,
        multilabel: bool = False,
        id2label: dict[int, str] | None = None,
        use_pooler: bool = False,
        set_active: bool = True,
    ) -> None:
        kind = "multilabel_classification" if multilabel else "classification"
        self.add_head(head_name, self._sequence_config(kind, num_labels, layers, activation_function, id2label,
                                                        use_pooler), overwrite_ok, set_active)  # fmt: skip

    def add_image_classification_head(
        self,
        head_name: str,
        num_labels: int = 2,
        layers: int = 2,
        activation_function: str | None = "tanh",
        overwrite_ok: bool = False,
        multilabel: bool = False,
        id2label: dict[int, str] | None = None,
        use_pooler: bool = False,
        set_active: bool = True,
    ) -> None:
        config = self._sequence_config(
            "image_classification", num_labels, layers, activation_function, id2label, use_pooler
        )
        self.add_head(head_name, config.replace(multilabel=multilabel), overwrite_ok, set_active)

    def add_multiple_choice_head(
        self,
        head_name: str,
        layers: int = 2,
        activation_function: str | None = "tanh",
        overwrite_ok: bool = False,
        use_pooler: bool = False,
        set_active: bool = True,
    ) -> None:
        config = self._sequence_config("multiple_choice", None, layers, activation_function, None, use_pooler)
        self.add_head(head_name, config, overwrite_ok, set_active)

    def add_tagging_head(
        self,
        head_name: str,
        num_labels: int = 2,
        layers: int = 1,
        activation_function: str | None = "tanh",
        overwrite_ok: bool = False,
        id2label: dict[int, str] | None = None,
        set_active: bool = True,
    ) -> None:
        config = HeadConfig(
            "tagging", num_labels=num_labels, layers=layers, activation=_activation(layers, activation_function),
            id2label=id2label,
        )  # fmt: skip
        self.add_head(head_name, config, overwrite_ok, set_active)

    def add_qa_head(
        self,
        head_name: str,
        layers: int = 1,
        activation_function: str | None = "tanh",
        overwrite_ok: bool = False,
        set_active: bool = True,
    ) -> None:
        config = HeadConfig("question_answering", layers=layers, activation=_activation(layers, activation_function))
        self.add_head(head_name, config, overwrite_ok, set_active)

    def add_masked_lm_head(self, head_name: str, overwrite_ok: bool = False, set_active: bool = True, **options):
        """A masked-LM head shaped like the family's own (BertForMaskedLM, ...); ``options`` override HeadConfig."""
        self.add_head(head_name, self._lm_config("masked_lm", options), overwrite_ok, set_active)

    def add_causal_lm_head(self, head_name: str, overwrite_ok: bool = False, set_active: bool = True, **options):
        """A causal-LM head shaped like the family's own (GPT2LMHeadModel, ...); ``options`` override HeadConfig."""
        self.add_head(head_name, self._lm_config("causal_lm", options), overwrite_ok, set_active)

    def add_seq2seq_lm_head(self, head_name: str, overwrite_ok: bool = False, set_active: bool = True, **options):
        """A seq2seq-LM head shaped like the family's own (T5ForConditionalGeneration, ...)."""
        self.add_head(head_name, self._lm_config("seq2seq_lm", options), overwrite_ok, set_active)

    def delete_head(self, head_name: str) -> None:
        """Remove head ``head_name`` and its weights; it is no longer active."""
        self._require_head(head_name)
        del self.heads[head_name]
        if self._active_head == head_name:
            self._active_head = None

    @property
    def heads_config(self) -> dict[str, HeadConfig]:
        return {name: head.config for name, head in self.heads.items()}

    def get_labels_dict(self, head_name: str | None = None) -> dict[int, str] | None:
        config = self.heads[self._require_head(head_name or self._active_head)].config
        return None if config.id2label is None else dict(config.id2label)

    def get_labels(self, head_name: str | None = None) -> list[str] | None:
        labels = self.get_labels_dict(head_name)
        return None if labels is None else [labels[i] for i in sorted(labels)]

    # ----- the active head -----
    @property
    def active_head(self) -> str | None:
        return self._active_head

    @active_head.setter
    def active_head(self, head_name: str | None) -> None:
        if head_name is not None:
            self._require_head(head_name)
        self._active_head = head_name

    def set_active_adapters(self, adapter_setup: Any) -> None:
        super().set_active_adapters(adapter_setup)
        self._follow_setup(self.adapter_state.active)

    def train_adapter(self, adapter_setup: Any) -> None:
        """Train the adapters of ``adapter_setup`` and the heads; the base model (tied output weights too) is frozen."""
        super().train_adapter(adapter_setup)
        for head in self.heads.values():
            for param in head.own_parameters().values():
                param.requires_grad_(True)
        self._follow_setup(self.adapter_state.active)

    def _follow_setup(self, setup: CompositionBlock | None) -> None:
        name = _head_of_setup(setup, self.heads)
        if name is not None:
            self._active_head = name

    # ----- forward -----
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        input_values: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        *,
        head: str | None = None,
        return_dict: bool | None = None,
        **inputs: Any,
    ) -> Any:
        """Run the base model and the head: ``head``, else the head of the adapters in an ``AdapterSetup`` block,
        else ``active_head``. Without a head, the base model's outputs. Labels give a loss as in transformers;
        ``return_dict=False`` gives the outputs as a tuple, as transformers' models do. The named arguments are the
        inputs of the families' models (the Trainer keeps dataset columns by these names); others pass through."""
        named = {
            "attention_mask": attention_mask, "token_type_ids": token_type_ids, "position_ids": position_ids,
            "inputs_embeds": inputs_embeds, "pixel_values": pixel_values, "input_features": input_features,
            "input_values": input_values, "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask, "labels": labels, "start_positions": start_positions,
            "end_positions": end_positions,
        }  # fmt: skip
        inputs.update({key: value for key, value in named.items() if value is not None})
        outputs = self._forward(input_ids, head, **inputs)
        # what config.use_return_dict gives, without its deprecation warning in transformers 5 (a logger call that
        # torch.compile cannot trace); 4.x forces tuples under torchscript
        default = self.config.return_dict and not getattr(self.config, "torchscript", False)
        wants_dict = default if return_dict is None else return_dict
        return outputs if wants_dict or not hasattr(outputs, "to_tuple") else outputs.to_tuple()

    def _forward(self, input_ids: torch.Tensor | None, head: str | None, **inputs: Any) -> Any:
        labels = {key: inputs.pop(key) for key in LABEL_INPUTS if inputs.get(key) is not None}
        # the Trainer's loss argument: the heads' losses are means over the batch and never read it, and a base
        # model without **kwargs (BLOOM in transformers 4.x) refuses it
        inputs.pop("num_items_in_batch", None)
        if input_ids is not None:
            inputs["input_ids"] = input_ids
        branch_heads = (
            None if head is not None else _parallel_heads(context_setup() or self.adapter_state.active, self.heads)
        )
        if branch_heads:
            return self._forward_parallel_heads(branch_heads, inputs, labels)
        name = head if head is not None else (_head_of_setup(context_setup(), self.heads) or self._active_head)
        if name is None:
            if labels:
                raise ValueError("labels were given but the model has no active head; add a head or pass head=")
            return self.base_model(**inputs)
        prediction_head = self.heads[self._require_head(name)]
        config = prediction_head.config
        num_choices = None
        if config.head_type == "multiple_choice":
            num_choices, inputs = _flatten_choices(inputs)
        outputs = self._run_base(config, inputs, labels)
        return head_output(config, prediction_head, outputs, self.config, inputs.get("input_ids"), labels, num_choices)

    def _forward_parallel_heads(
        self, branch_heads: list[str], inputs: dict[str, Any], labels: dict[str, Any]
    ) -> ParallelHeadOutputs:
        """One base pass over the replicated batch; branch i's rows go through branch i's head."""
        configs = [self.heads[name].config for name in branch_heads]
        if any(c.head_type == "multiple_choice" for c in configs):
            raise ValueError("multiple-choice heads cannot run in a Parallel block; run the branches one at a time")
        outputs = self._run_base(configs[0], inputs, labels)
        batch = next(v for v in outputs.values() if isinstance(v, torch.Tensor)).shape[0] // len(branch_heads)
        results = ParallelHeadOutputs()
        setup = context_setup() or self.adapter_state.active
        for index, (name, config) in enumerate(zip(branch_heads, configs, strict=True)):
            rows = slice(index * batch, (index + 1) * batch)
            branch = type(outputs)(**{k: _rows(v, rows, batch * len(branch_heads)) for k, v in outputs.items()})
            branch_inputs = {k: _rows(v, rows, batch * len(branch_heads)) for k, v in inputs.items()}
            ids = branch_inputs.get("input_ids")
            # the head sees branch i's rows only: what acts on them there (an invertible adapter's inverse before an
            # LM head) is branch i's part of the setup
            with AdapterSetup(_branch_setup(setup, index)):
                results.append(head_output(config, self.heads[name], branch, self.config, ids, labels, None))
        losses = [out.loss for out in results if getattr(out, "loss", None) is not None]
        results.loss = sum(losses) if losses else None
        return results

    def _run_base(self, config: HeadConfig, inputs: dict[str, Any], labels: dict[str, Any]) -> Any:
        if not self.adapter_state.spec.is_encoder_decoder:
            return self.base_model(**inputs)
        if config.head_type == "tagging":  # tags every input token: the encoder's job
            encoder_inputs = {k: v for k, v in inputs.items() if not k.startswith("decoder_")}
            return self.base_model.get_encoder()(**encoder_inputs)
        if inputs.get("decoder_input_ids") is None and inputs.get("decoder_inputs_embeds") is None:
            # as transformers' classes do: the targets shifted right for an LM head, else the inputs shifted right
            source = labels.get("labels") if config.head_type == "seq2seq_lm" else None
            source = source if source is not None else inputs.get("input_ids")
            if source is None:
                raise ValueError("pass input_ids or decoder_input_ids to an encoder-decoder adapter model")
            inputs["decoder_input_ids"] = shift_right(source, self.config)
        return self.base_model(**inputs)

    # ----- saving and loading -----
    def save_head(self, save_directory: str | Path, head_name: str, format: str = "reference") -> None:
        """Write head ``head_name`` (config as JSON, weights as safetensors; tied weights are not duplicated).

        ``format="adapters"``: AdapterHub's layout (``head_config.json``, ``model_head.safetensors``), for the head
        types both have (classification, tagging, multiple choice, question answering)."""
        check_format(format)
        files.save_head(self, Path(save_directory), self._require_head(head_name), format)

    def load_head(
        self,
        load_directory: str | Path,
        load_as: str | None = None,
        overwrite_ok: bool = False,
        set_active: bool = True,
    ) -> files.LoadedHead:
        """Load a head saved by ``save_head``, or by AdapterHub. Nothing changes when loading fails."""
        loaded = files.read_head(self, Path(load_directory), load_as)
        self._check_new_head(loaded.name, loaded.module.config, overwrite_ok)
        self._install_head(loaded.name, loaded.module, set_active)
        return loaded.result

    def save_adapter(
        self, save_directory: str | Path, adapter_name: str, with_head: bool = True, format: str = "reference"
    ) -> None:
        """Write adapter ``adapter_name``, and with ``with_head`` its head of the same name, if there is one.

        ``format="adapters"``: AdapterHub's layout, the head too where AdapterHub has its type (see ``save_head``)."""
        self._require(adapter_name)
        check_format(format)
        files.save_adapter_with_head(self, Path(save_directory), adapter_name, with_head, format)

    def load_adapter(
        self,
        load_directory: str | Path,
        load_as: str | None = None,
        set_active: bool = False,
        overwrite_ok: bool = False,
        with_head: bool = True,
    ) -> LoadedAdapter:
        """Load an adapter and, with ``with_head``, the head saved next to it (under the adapter's name)."""
        directory = Path(load_directory)
        head = None
        if with_head and files.has_head(directory):
            head = files.read_head(self, directory, load_as or files.saved_adapter_name(directory))
            self._check_new_head(head.name, head.module.config, overwrite_ok)
        loaded = super().load_adapter(directory, load_as, False, overwrite_ok)
        if head is None:
            if set_active:
                self.set_active_adapters(loaded.name)
            return loaded
        self._install_head(loaded.name, head.module, set_active=False)
        if set_active:
            self.set_active_adapters(loaded.name)
        prefix = f"heads.{loaded.name}."
        return LoadedAdapter(
            loaded.name,
            loaded.missing_keys + [prefix + k for k in head.result.missing_keys],
            loaded.unexpected_keys + [prefix + k for k in head.result.unexpected_keys],
        )

    def save_pretrained(self, save_directory: str | Path) -> None:
        """Write the whole model: config, adapters, fusions, heads and every weight (safetensors)."""
        files.save_model(self, Path(save_directory))

    @classmethod
    def from_pretrained(
        cls, path: str | Path, spec: ArchitectureSpec | None = None, head_name: str = "default"
    ) -> Any:
        """A model ``save_pretrained`` wrote, or a transformers checkpoint (see ``AutoAdapterModel.from_pretrained``)."""
        return files.load_model(Path(path), spec, head_name)

    # ----- helpers -----
    def _sequence_config(
        self, kind: str, num_labels: int | None, layers: int, activation: str | None, id2label: Any, use_pooler: bool
    ) -> HeadConfig:
        return HeadConfig(
            kind,
            num_labels=num_labels if id2label is None or num_labels is None else len(id2label),
            layers=layers,
            activation=_activation(layers, activation),
            use_pooler=use_pooler,
            pooling=None if use_pooler else default_pooling(self.adapter_state.spec),
            id2label=id2label,
        )

    def _lm_config(self, kind: str, options: dict[str, Any]) -> HeadConfig:
        from .conversion import lm_head_options

        return HeadConfig(kind, **{**lm_head_options(self, kind), **options})

    def _check_new_head(self, head_name: str, config: HeadConfig, overwrite_ok: bool) -> None:
        if not isinstance(head_name, str) or not head_name or "." in head_name or head_name != head_name.strip():
            raise ValueError(f"head name {head_name!r}: use a non-empty name without dots or outer spaces")
        if head_name in _RESERVED_NAMES:
            raise ValueError(
                f"head name {head_name!r} is reserved (an attribute of torch.nn.ModuleDict); choose another"
            )
        offered = self.head_types
        if config.head_type not in offered:
            raise ValueError(
                f"{self.adapter_state.spec.name} adapter models offer the head types {', '.join(offered)}; "
                f"{config.head_type!r} is not among them"
            )
        if config.use_pooler and config.head_type in SEQUENCE_HEADS and not hasattr(self.base_model, "pooler"):
            raise ValueError(f"use_pooler=True, but {type(self.base_model).__name__} has no pooler")
        if head_name in self.heads and not overwrite_ok:
            raise ValueError(f"a head named {head_name!r} exists already; pass overwrite_ok=True to replace it")

    def _build_head(self, config: HeadConfig) -> PredictionHead:
        embeddings = self.get_input_embeddings() if config.tie_output else None
        param = next(self.base_model.parameters())
        return PredictionHead(config, self.config, embeddings).to(device=param.device, dtype=param.dtype)

    def _install_head(self, head_name: str, head: PredictionHead, set_active: bool) -> None:
        head.train(self.training)
        self.heads[head_name] = head
        if set_active:
            self._active_head = head_name

    def _require_head(self, head_name: str | None) -> str:
        if head_name is None or head_name not in self.heads:
            known = ", ".join(self.heads) or "none"
            raise ValueError(f"no head named {head_name!r}; heads of this model: {known}")
        return head_name


def spec_for(config: Any) -> ArchitectureSpec:
    try:
        return registry.get(getattr(config, "model_type", None))
    except KeyError as err:
        raise ValueError(
            f"{type(config).__name__}: {err.args[0]}; pass spec= for an architecture of your own"
        ) from None


def _activation(layers: int, activation: str | None) -> str | None:
    return activation if layers > 1 else None


class ParallelHeadOutputs(list):
    """The outputs of a Parallel block's heads, one per branch, in branch order; ``loss`` is their sum."""

    loss: torch.Tensor | None = None


def _rows(value: Any, rows: slice, replicated: int) -> Any:
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == replicated:
        return value[rows]
    return value if isinstance(value, torch.Tensor) else None  # caches and tuples do not split by branch


def _parallel_heads(setup: Any, heads: nn.ModuleDict) -> list[str] | None:
    """The head of each branch of the setup's Parallel block: the last adapter of the branch that has a head.

    None when the setup has no Parallel block or no branch has a head; a ValueError when only some branches do.
    """
    parallel = next((c for c in (setup or ()) if isinstance(c, Parallel)), None)
    if parallel is None:
        return None
    found = []
    for branch in parallel:
        names = branch.flatten() if isinstance(branch, CompositionBlock) else (branch,)
        found.append(next((name for name in reversed(names) if name in heads), None))
    if all(name is None for name in found):
        return None
    if None in found:
        missing = [str(b) for b, name in zip(parallel, found, strict=True) if name is None]
        raise ValueError(f"{parallel!r}: branches {missing} have no head of the same name; add one per branch")
    return found


def _head_of_setup(setup: Any, heads: nn.ModuleDict) -> str | None:
    """The head a setup selects: the last of its adapters that has a head of the same name."""
    if setup is None:
        return None
    names = parse_setup(setup).flatten() if not isinstance(setup, CompositionBlock) else setup.flatten()
    return next((name for name in reversed(names) if name in heads), None)


def _flatten_choices(inputs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(batch, choices, ...) inputs as (batch * choices, ...), as transformers' multiple-choice classes do."""
    ids = inputs.get("input_ids", inputs.get("inputs_embeds"))
    if ids is None or ids.dim() < (3 if "input_ids" in inputs else 4):
        raise ValueError("a multiple-choice head needs inputs of shape (batch, choices, sequence)")
    flat = dict(inputs)
    for key in CHOICE_INPUTS:
        value = inputs.get(key)
        if isinstance(value, torch.Tensor):
            keep = 2 if key == "inputs_embeds" else 1
            flat[key] = value.reshape(-1, *value.shape[-keep:])
    return ids.shape[1], flat


# Class attributes of the base class that say what transformers may do with the model (attention implementations,
# device placement); the adapter model inherits them so that transformers treats it like its base class.
_CAPABILITIES = (
    "config_class", "base_model_prefix", "main_input_name", "_no_split_modules", "_supports_sdpa",
    "_supports_flash_attn", "_supports_flex_attn", "_supports_attention_backend", "_can_compile_fullgraph",
    "_supports_cache_class", "_supports_static_cache", "_is_stateful", "input_modalities",
)  # fmt: skip


@cache
def adapter_model_class(spec: ArchitectureSpec) -> type[AdapterModel]:
    """The adapter model class of ``spec``'s architecture (``BertAdapterModel``), built once."""
    base_class = model_class(spec)
    attributes = {name: getattr(base_class, name) for name in _CAPABILITIES if hasattr(base_class, name)}
    # the attribute the base model is kept under; transformers 4.57's Gemma3TextModel leaves its prefix empty
    attributes["base_model_prefix"] = attributes.get("base_model_prefix") or "model"
    # transformers 5.x decides whether a model may pick its experts' implementation (Mixtral's fused experts) by
    # reading the source of the class's module; this class's module is ours, so it takes the base class's answer
    if hasattr(base_class, "_can_set_experts_implementation"):
        answer = base_class._can_set_experts_implementation()
        attributes["_can_set_experts_implementation"] = classmethod(lambda cls: answer)
    name = base_class.__name__.removesuffix("Model") + "AdapterModel"
    return type(name, (AdapterModel,), {**attributes, "__module__": __name__, "__qualname__": name})


class AutoAdapterModel:
    """Builds the adapter model of any registered architecture."""

    @staticmethod
    def from_config(config: Any, spec: ArchitectureSpec | None = None) -> AdapterModel:
        return AdapterModel(config, spec)

    @staticmethod
    def from_pretrained(path: str | Path, spec: ArchitectureSpec | None = None, head_name: str = "default") -> Any:
        """A model saved by ``save_pretrained``, or a transformers checkpoint (a static head class's weights
        become head ``head_name``)."""
        return files.load_model(Path(path), spec, head_name)


__all__ = ["AdapterModel", "AutoAdapterModel", "LM_HEADS"]


def _branch_setup(setup: Any, index: int) -> Any:
    """The setup as branch ``index`` of its Parallel block sees it: the Parallel replaced by that child."""
    if isinstance(setup, Parallel):
        return setup.children[index]
    if isinstance(setup, Stack):
        return Stack(*(_branch_setup(child, index) for child in setup.children))
    return setup
