"""The spec scaffolder: a draft spec module for a transformers model type, read off a live tiny model.

``draft(model_type)`` builds a tiny model from transformers' own config class and finds, for every spec field, a
value and how it was found (``by name``, ``by shape``, ``by probing``: hooks record the call order of one forward).
A field it cannot decide is ``TODO`` with its candidates. ``render(draft)`` writes the module; a person reviews it.
Nothing here is trusted: ``register()`` checks the paths and ``pytest --arch`` the behaviour.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from .modality import MODALITIES, config_value


TINY_HIDDEN = 32
MAX_PARAMETERS = 2_000_000  # a tiny model has some 100k; more means a size attribute was missed
# Config attributes shrunk by name (transformers' attribute_map resolves aliases such as n_embd -> hidden_size).
TINY_VALUES: dict[str, int] = {
    "hidden_size": TINY_HIDDEN,
    "d_model": TINY_HIDDEN,
    "embed_dim": TINY_HIDDEN,
    "projection_dim": TINY_HIDDEN,
    "num_hidden_layers": 2,
    "num_layers": 2,
    "num_decoder_layers": 2,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "num_attention_heads": 4,
    "num_heads": 4,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "d_kv": 8,
    "intermediate_size": 37,
    "d_ff": 37,
    "ffn_dim": 37,
    "encoder_ffn_dim": 37,
    "decoder_ffn_dim": 37,
    "n_inner": 37,
    "vocab_size": 128,
    "max_position_embeddings": 64,
    "n_positions": 64,
    "image_size": 32,
    "patch_size": 8,
    "max_source_positions": 16,
    "max_target_positions": 64,
    "num_mel_bins": 8,
    "relative_attention_num_buckets": 8,
    "num_local_experts": 4,
    "num_experts": 4,
    "moe_intermediate_size": 16,
    "shared_expert_intermediate_size": 16,
    "sliding_window": 16,
}
SPECIAL_TOKENS = {
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 1,
    "sep_token_id": 2,
    "cls_token_id": 1,
    "forced_eos_token_id": 2,
}
# Config attributes that must agree with the shrunk ones and are rebuilt by the config class when left out.
DERIVED = ("layer_types", "mlp_only_layers")

Q_NAMES = {"q", "q_proj", "query", "q_lin", "wq", "query_proj"}
K_NAMES = {"k", "k_proj", "key", "k_lin", "wk", "key_proj"}
V_NAMES = {"v", "v_proj", "value", "v_lin", "wv", "value_proj"}
# Fused projections and the row layout they are known to have.
QKV_NAMES = {
    "c_attn": "blocked",
    "qkv": "blocked",
    "qkv_proj": "blocked",
    "Wqkv": "blocked",
    "W_pack": "blocked",
    "in_proj": "per_head",
    "query_key_value": "per_head",
}
OUT_NAMES = ("o_proj", "out_proj", "o", "c_proj", "out_lin", "dense", "wo", "Wo", "proj", "out", "fc")
CROSS_WORDS = ("cross", "encoder_attn", "encdec", "crossattention")
UP_WORDS = ("up", "wi_1", "w3", "fc1", "c_fc", "wi", "lin1", "intermediate")


@dataclass
class Guess:
    """One field of the draft: its value (None when undecided), how it was found, the candidates when undecided."""

    value: Any
    how: str
    candidates: tuple[Any, ...] = ()

    @property
    def decided(self) -> bool:
        return self.value is not None


@dataclass
class StackDraft:
    name: str
    fields: dict[str, Guess] = field(default_factory=dict)


@dataclass
class Draft:
    model_type: str
    config_class: str
    config_kwargs: dict[str, Any]
    fields: dict[str, Guess] = field(default_factory=dict)
    stacks: list[StackDraft] = field(default_factory=list)
    heads: dict[str, Guess] = field(default_factory=dict)  # class name -> head type

    def undecided(self) -> list[str]:
        missing = [k for k, g in self.fields.items() if not g.decided]
        for stack in self.stacks:
            missing += [f"{stack.name}.{k}" for k, g in stack.fields.items() if not g.decided]
        return missing + [f"heads[{k}]" for k, g in self.heads.items() if not g.decided]

    @property
    def complete(self) -> bool:
        """Every layout field found (head classes in no mapping need a person: mapped or a gap, with a reason)."""
        return bool(self.stacks) and not [m for m in self.undecided() if not m.startswith("heads[")]


# ----- tiny config -----


def tiny_config(model_type: str) -> tuple[Any, dict[str, Any]]:
    """A tiny config of ``model_type`` built from transformers' config class, and the arguments that shrank it."""
    from transformers import CONFIG_MAPPING

    try:
        config_class = CONFIG_MAPPING[model_type]
    except KeyError:
        raise ValueError(f"transformers has no model type {model_type!r}") from None
    default = config_class()
    kwargs = _shrunk(default)
    nested = {}
    for key in ("text_config", "vision_config", "audio_config", "encoder", "decoder"):
        sub = getattr(default, key, None)
        if sub is not None and hasattr(sub, "to_dict"):
            nested[key] = (
                {**_shrunk(sub), "model_type": sub.model_type}
                if key in ("encoder", "decoder")
                else {k: v for k, v in _shrunk(sub).items()}
            )
    kwargs.update(nested)
    return config_class(**kwargs), kwargs


def _shrunk(config: Any) -> dict[str, Any]:
    reverse = {real: alias for alias, real in getattr(config, "attribute_map", {}).items()}
    kwargs = {}
    for key, value in config.to_dict().items():
        name = key if key in TINY_VALUES else reverse.get(key)
        if name in TINY_VALUES and isinstance(value, int) and not isinstance(value, bool):
            kwargs[key] = TINY_VALUES[name]
        elif name == "image_size" and isinstance(value, (list, tuple)):
            kwargs[key] = [TINY_VALUES["image_size"]] * len(value)
    vocab = TINY_VALUES["vocab_size"]
    for key, small in SPECIAL_TOKENS.items():  # ids beyond the tiny vocabulary would index out of it
        value = config.to_dict().get(key)
        if isinstance(value, int) and value >= vocab:
            kwargs[key] = small
        elif isinstance(value, list) and any(isinstance(v, int) and v >= vocab for v in value):
            kwargs[key] = small
    for key in DERIVED:
        if config.to_dict().get(key) is not None:
            kwargs[key] = None
    return kwargs


# ----- the live model -----


def _dims(module: Any) -> tuple[int, int] | None:
    """(in, out) features of a Linear or transformers' Conv1D (weight stored transposed)."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D":
        return tuple(module.weight.shape)  # type: ignore[return-value]
    return None


def _is_norm(module: Any) -> bool:
    name = type(module).__name__
    return "Norm" in name and "Group" not in name and "Batch" not in name


def draft(model_type: str) -> Draft:
    """Scaffold ``model_type``: every field found, with how, or TODO with candidates."""
    import torch
    from transformers.models.auto import modeling_auto

    config, kwargs = tiny_config(model_type)
    result = Draft(model_type, type(config).__name__, kwargs)
    base_name = modeling_auto.MODEL_MAPPING_NAMES.get(model_type)
    if isinstance(base_name, (list, tuple)):
        base_name = base_name[0]
    if base_name is None:
        raise ValueError(f"transformers has no base model class for {model_type!r}")
    import transformers

    base_class = getattr(transformers, base_name)
    with torch.device("meta"):  # count first: a config attribute the shrinking missed must not fill the memory
        size = sum(p.numel() for p in base_class(config).parameters())
    if size > MAX_PARAMETERS:
        raise ValueError(
            f"{model_type}: the shrunk config still gives {size:,} parameters; some size attribute was not shrunk "
            f"(add its name to TINY_VALUES)"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = base_class(config).eval()
    result.fields["base_class"] = Guess(base_name, "transformers' MODEL_MAPPING_NAMES")
    modality = _modality(model_type, config)
    result.fields["modality"] = modality
    result.fields["embeddings"] = _embeddings(model)
    hidden = config_value(config, "hidden_size")
    stacks = _layer_stacks(model, config)
    if not stacks:
        raise ValueError(f"{model_type}: no list of identical layers with attention projections found")
    events = _probe(model, config, modality.value, stacks, hidden)
    for name, path, layer in stacks:
        result.stacks.append(_stack_draft(name, path, layer, hidden, modality.value, events.get(path, [])))
    result.heads = _heads(model_type, base_name)
    return result


def _modality(model_type: str, config: Any) -> Guess:
    from transformers.models.auto import modeling_auto as auto

    def has(mapping: str) -> bool:
        return model_type in getattr(auto, mapping, {})

    if has("MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"):
        return Guess("speech_encoder_decoder", "transformers' speech seq2seq mapping")
    if has("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"):
        return Guess("encoder_decoder", "transformers' seq2seq LM mapping")
    if getattr(config, "text_config", None) is not None and getattr(config, "vision_config", None) is not None:
        return Guess("text_image", "text_config and vision_config in the config")
    if has("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES") or (
        hasattr(config, "image_size") and not hasattr(config, "vocab_size")
    ):
        return Guess("vision", "transformers' image classification mapping")
    if has("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES") and not has("MODEL_FOR_MASKED_LM_MAPPING_NAMES"):
        return Guess("decoder", "causal LM mapping, no masked LM mapping")
    if has("MODEL_FOR_MASKED_LM_MAPPING_NAMES") or has("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"):
        return Guess("text_encoder", "masked LM / sequence classification mapping")
    return Guess(None, "no auto mapping tells", tuple(MODALITIES))


def _embeddings(model: Any) -> Guess:
    paths = {id(m): p for p, m in model.named_modules()}
    try:
        table = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        table = None
    if table is not None and id(table) in paths:
        return Guess(paths[id(table)], "get_input_embeddings()")
    patches = [p for p in paths.values() if p.endswith("patch_embeddings") or p.endswith("patch_embedding")]
    if len(patches) == 1:
        return Guess(patches[0], "the one module named *patch_embeddings")
    return Guess(None, "get_input_embeddings() is not a submodule", tuple(patches))


def _layer_stacks(model: Any, config: Any) -> list[tuple[str, str, Any]]:
    """(name, path, first layer) of every ModuleList of identical layers that hold attention projections."""
    from torch import nn

    found = []
    for path, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        if len({type(layer) for layer in module}) != 1 or any(path.startswith(p + ".") for _, p, _ in found):
            continue
        if not _attention_linears(module[0]):
            continue
        lowered = path.lower()
        name = "decoder" if "decoder" in lowered else "encoder" if "encoder" in lowered else ""
        found.append((name, path, module[0]))
    for i, (name, path, layer) in enumerate(found):
        if not name:
            decoder_only = not getattr(config, "is_encoder_decoder", False) and len(found) == 1
            found[i] = ("decoder" if decoder_only and _causal_by_config(config) else "encoder", path, layer)
    if len({name for name, _, _ in found}) < len(found):  # side-by-side towers (CLIP): named by their holders
        found = [(path.split(".")[0].removesuffix("_model"), path, layer) for _, path, layer in found]
    return found


def _causal_by_config(config: Any) -> bool:
    from transformers.models.auto import modeling_auto as auto

    model_type = config.model_type
    return model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in getattr(
        auto, "MODEL_FOR_MASKED_LM_MAPPING_NAMES", {}
    )


def _attention_linears(layer: Any) -> dict[str, str]:
    """Paths of q/k/v or fused qkv projections in ``layer``, by the last part of their name."""
    found = {}
    for path, module in layer.named_modules():
        if _dims(module) is None:
            continue
        last = path.rsplit(".", 1)[-1]
        if last in Q_NAMES | K_NAMES | V_NAMES or last in QKV_NAMES:
            found[path] = last
    return found


def _attention_modules(layer: Any) -> dict[str, dict[str, str]]:
    """Attention module path -> {"q": path, ...} for each module holding projections."""
    modules: dict[str, dict[str, str]] = {}
    for path, last in _attention_linears(layer).items():
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        role = "q" if last in Q_NAMES else "k" if last in K_NAMES else "v" if last in V_NAMES else "qkv"
        modules.setdefault(parent, {})[role] = path
    return {p: roles for p, roles in modules.items() if "qkv" in roles or {"q", "k", "v"} <= set(roles)}


def _output_projection(layer: Any, attention: str, projections: set[str], hidden: int) -> Guess:
    linears = {p: _dims(m) for p, m in layer.named_modules() if _dims(m) is not None}
    inside = [p for p in linears if p.startswith(attention + ".") and p not in projections]
    named = [p for p in inside if p.rsplit(".", 1)[-1] in OUT_NAMES]
    if len(named) == 1:
        return Guess(named[0], "by name, inside the attention module")
    # BERT-like: the output projection is a sibling of the attention module (attention.output.dense)
    parent = attention.rsplit(".", 1)[0] if "." in attention else ""
    if parent:
        beside = [
            p
            for p in linears
            if p.startswith(parent + ".") and not p.startswith(attention + ".") and p.rsplit(".", 1)[-1] in OUT_NAMES
        ]
        if len(beside) == 1:
            return Guess(beside[0], "by name, beside the attention module")
    return Guess(None, "no single output projection by name", tuple(named or inside))


def _probe(model: Any, config: Any, modality: str | None, stacks: list, hidden: int) -> dict[str, list[str]]:
    """Call order inside the first layer of every stack during one forward: [path, ...] relative to the layer."""
    import torch

    events: dict[str, list[str]] = {}
    handles = []
    for _, path, layer in stacks:
        calls = events.setdefault(path, [])
        for sub, module in layer.named_modules():
            if sub and (_is_norm(module) or _dims(module) is not None or sub in _attention_modules(layer)):
                handles.append(module.register_forward_pre_hook(lambda m, a, sub=sub, calls=calls: calls.append(sub)))
    try:
        if modality in MODALITIES:
            generator = torch.Generator().manual_seed(0)
            inputs = MODALITIES[modality].make_inputs(config, generator, 1, 8, 6)
            with torch.no_grad():
                model(**inputs)
    except Exception as err:  # noqa: BLE001 - probing is a best effort; undecided fields say why
        events["__error__"] = [f"{type(err).__name__}: {err}"]
    finally:
        for handle in handles:
            handle.remove()
    return events


def _stack_draft(name: str, path: str, layer: Any, hidden: int, modality: str | None, calls: list[str]) -> StackDraft:
    stack = StackDraft(name)
    stack.fields["path"] = Guess(path, "a ModuleList of identical layers with attention projections")
    attentions = _attention_modules(layer)
    cross = [a for a in attentions if any(w in a.lower() for w in CROSS_WORDS)]
    selfs = [a for a in attentions if a not in cross]
    attention_paths = set()
    for prefix, found in (("self_attention", selfs), ("cross_attention", cross)):
        if len(found) != 1:
            if found or prefix == "self_attention":
                stack.fields[f"{prefix}.module"] = Guess(None, f"{len(found)} candidates", tuple(found))
            continue
        module = found[0]
        roles = attentions[module]
        attention_paths.add(module)
        stack.fields[f"{prefix}.module"] = Guess(module, "parent of the q/k/v projections (by name)")
        for role in ("q", "k", "v", "qkv"):
            if role in roles:
                stack.fields[f"{prefix}.{role}"] = Guess(roles[role], "by name")
        if "qkv" in roles:
            last = roles["qkv"].rsplit(".", 1)[-1]
            stack.fields[f"{prefix}.qkv_layout"] = Guess(
                QKV_NAMES.get(last), f"known layout of {last!r}", ("blocked", "per_head")
            )
        output = _output_projection(layer, module, set(roles.values()), hidden)
        stack.fields[f"{prefix}.output"] = output
        if output.decided:
            attention_paths.add(output.value)
    stack.fields.update(_ffn(layer, attention_paths, hidden))
    stack.fields.update(_norms(layer, calls, stack.fields))
    causal = name == "decoder" and modality in ("decoder", "encoder_decoder", "speech_encoder_decoder")
    stack.fields["causal"] = Guess(causal, "a decoder stack of a generating model")
    return stack


def _ffn(layer: Any, attention_paths: set[str], hidden: int) -> dict[str, Guess]:
    linears = {
        p: _dims(m)
        for p, m in layer.named_modules()
        if _dims(m) is not None and not any(p == a or p.startswith(a + ".") for a in attention_paths)
    }
    ins = [p for p, (i, o) in linears.items() if i == hidden and o > hidden and o != 3 * hidden]
    outs = [p for p, (i, o) in linears.items() if o == hidden and i > hidden]
    fields = {}
    if len(ins) == 1:
        fields["ffn_in"] = Guess(ins[0], "by shape: hidden -> intermediate")
    else:
        up = [p for p in ins if any(p.rsplit(".", 1)[-1].lower().startswith(w.lower()) for w in UP_WORDS)]
        up = up[:1] if len(up) >= 1 and len(ins) == 2 else up
        how = "gated FFN: the linear (un-gated) input projection, by name" if len(ins) == 2 else "by shape and name"
        fields["ffn_in"] = Guess(up[0] if len(up) == 1 else None, how, tuple(ins))
    fields["ffn_out"] = (
        Guess(outs[0], "by shape: intermediate -> hidden")
        if len(outs) == 1
        else Guess(None, f"{len(outs)} linears map intermediate -> hidden", tuple(outs))
    )
    return fields


def _norms(layer: Any, calls: list[str], fields: dict[str, Guess]) -> dict[str, Guess]:
    """Norm position and the attention / FFN norms, from the call order of one forward."""
    attention = fields.get("self_attention.module", Guess(None, "")).value
    attention_out = fields.get("self_attention.output", Guess(None, "")).value
    ffn_in, ffn_out = fields["ffn_in"].value, fields["ffn_out"].value
    norms = [p for p, m in layer.named_modules() if p and _is_norm(m)]
    norms = [n for n in norms if not (attention and n.startswith(attention + "."))]  # q_norm / k_norm
    undecided = {
        "attention_norm": Guess(None, "not probed", tuple(norms)),
        "ffn_norm": Guess(None, "not probed", tuple(norms)),
        "norm_position": Guess(None, "not probed", ("pre", "post")),
    }
    if not calls or attention not in calls or ffn_in not in calls or ffn_out not in calls:
        return undecided
    order = [c for c in calls if c in norms or c in (attention, attention_out, ffn_in, ffn_out)]
    first_attention, first_ffn = order.index(attention), order.index(ffn_in)
    before = [n for n in order[:first_attention] if n in norms]
    found: dict[str, Guess] = {}
    if before:
        between = [n for n in order[first_attention:first_ffn] if n in norms]
        found["norm_position"] = Guess("pre", "by probing: a norm runs before the attention")
        found["attention_norm"] = Guess(before[-1], "by probing: the last norm before the attention")
        found["ffn_norm"] = (
            Guess(between[-1], "by probing: the last norm before the FFN")
            if between
            else Guess(None, "by probing: no norm between attention and FFN", tuple(norms))
        )
        if len(set(between)) > 1:
            found["ffn_norm"].how += f" (also ran: {', '.join(between[:-1])})"
    else:
        out_index = order.index(attention_out) if attention_out in order else first_attention
        after_attention = [n for n in order[out_index:first_ffn] if n in norms]
        after_ffn = [n for n in order[order.index(ffn_out) :] if n in norms]
        found["norm_position"] = Guess("post", "by probing: no norm runs before the attention")
        found["attention_norm"] = (
            Guess(after_attention[0], "by probing: the first norm after the attention output")
            if after_attention
            else Guess(None, "by probing: no norm after the attention", tuple(norms))
        )
        found["ffn_norm"] = (
            Guess(after_ffn[0], "by probing: the first norm after the FFN output")
            if after_ffn
            else Guess(None, "by probing: no norm after the FFN", tuple(norms))
        )
    return {**undecided, **found}


def _heads(model_type: str, base_name: str) -> dict[str, Guess]:
    import transformers
    from transformers import PreTrainedModel

    from .heads import AUTO_MAPPING_HEAD_TYPES, _auto_mapping_classes, is_pretrained_base_name

    base = getattr(transformers, base_name)
    module = importlib.import_module(base.__module__)
    names = set(getattr(module, "__all__", ())) | set(_auto_mapping_classes(model_type))
    found: dict[str, Guess] = {}
    for name in sorted(names):
        cls = getattr(module, name, None) or getattr(transformers, name, None)
        if not isinstance(cls, type) or not issubclass(cls, PreTrainedModel) or cls is base:
            continue
        if is_pretrained_base_name(name):
            continue
        mappings = {**AUTO_MAPPING_HEAD_TYPES, "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES": frozenset({"seq2seq_lm"})}
        types = {
            t
            for mapping, kinds in mappings.items()
            if name in _auto_mapping_classes(model_type, (mapping,))
            for t in kinds
            if t != "multilabel_classification"
        }
        if types:  # a class in several mappings (BART's generation class is a masked LM too): the most specific
            found[name] = Guess(min(types, key=HEAD_PRIORITY.index), "transformers' auto mapping for the model type")
        else:
            found[name] = Guess(None, "in no head mapping: map it or declare it a gap", ("gap",))
    return found


HEAD_PRIORITY = [
    "seq2seq_lm",
    "causal_lm",
    "image_classification",
    "question_answering",
    "multiple_choice",
    "tagging",
    "classification",
    "masked_lm",
]


# ----- rendering -----


def render(result: Draft) -> str:
    """The draft spec module: every guess commented with how it was found; TODO where undecided."""
    lines = [
        f'"""{result.model_type}: DRAFT written by `adapter-conformance scaffold {result.model_type}`; review every',
        "field, then run `pytest --arch=" + result.model_type + '`."""',
        "",
        "from .heads import HeadMap, StaticHead",
        "from .registry import register",
        "from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout",
        "",
        "",
        "def tiny_config():",
        f"    from transformers import {result.config_class}",
        "",
        f"    return {result.config_class}(",
    ]
    for key, value in result.config_kwargs.items():
        lines.append(f"        {key}={value!r},")
    lines += ["    )", "", ""]
    lines.append(f"LAYOUT = ModuleLayout(\n    name={result.model_type!r},")
    lines.append(_field_line("    ", "embeddings", result.fields["embeddings"]))
    lines.append("    stacks=(")
    for stack in result.stacks:
        lines.append("        LayerStackSpec(")
        lines.append(f"            name={stack.name!r},")
        lines.append(_field_line("            ", "path", stack.fields["path"]))
        for prefix in ("self_attention", "cross_attention"):
            keys = [k for k in stack.fields if k.startswith(prefix + ".")]
            if not keys:
                continue
            lines.append(f"            {prefix}=AttentionSpec(")
            for key in keys:
                lines.append(_field_line("                ", key.split(".", 1)[1], stack.fields[key]))
            lines.append("            ),")
        for key in ("ffn_in", "ffn_out", "attention_norm", "ffn_norm", "norm_position", "causal"):
            lines.append(_field_line("            ", key, stack.fields[key]))
        lines.append("        ),")
    lines += ["    ),", ")", "", "SPEC = register(", "    ArchitectureSpec("]
    lines.append(f"        name={result.model_type!r},")
    lines.append(_field_line("        ", "modality", result.fields["modality"]))
    lines.append("        make_config=tiny_config,")
    lines.append(_field_line("        ", "base_class", result.fields["base_class"]))
    lines.append("        head_classes=(")
    lines += [f"            {name!r}," for name in result.heads]
    lines.append("        ),")
    lines.append("        layouts=(LAYOUT,),")
    lines.append("        heads=HeadMap(")
    lines.append("            mapped=(")
    for name, guess in result.heads.items():
        if guess.decided:
            lines.append(f"                StaticHead({name!r}, {guess.value!r}),  # {guess.how}; check pooling")
    lines.append("            ),")
    gaps = [name for name, guess in result.heads.items() if not guess.decided]
    lines.append("            gaps={")
    lines += [f'                {name!r}: "TODO: map it or say why it cannot be a flexible head",' for name in gaps]
    lines.append("            },")
    lines += ["        ),", "    ),", "    module=__name__,", ")", ""]
    return "\n".join(lines)


def _field_line(indent: str, key: str, guess: Guess) -> str:
    if guess.decided:
        return f"{indent}{key}={guess.value!r},  # {guess.how}"
    return f"{indent}{key}=None,  # TODO {guess.how}; candidates: {', '.join(map(repr, guess.candidates)) or 'none'}"


# ----- comparing a draft with a hand-written spec -----


def compare(spec: Any) -> tuple[int, int, list[str]]:
    """(fields that match, fields compared, mismatch descriptions) between the draft and the registered ``spec``."""
    from .live import build_model, resolve_layout

    result = draft(spec.transformers_model_type)
    layout = resolve_layout(spec, build_model(spec))
    pairs: list[tuple[str, Any, Any]] = [
        ("modality", str(spec.modality), result.fields["modality"].value),
        ("base_class", spec.base_class, result.fields["base_class"].value),
        ("embeddings", layout.embeddings, result.fields["embeddings"].value),
    ]
    drafted = {s.name: s for s in result.stacks}
    for stack in layout.stacks:
        mine = drafted.get(stack.name)
        wanted = {"path": stack.path, "norm_position": stack.norm_position, "causal": stack.causal}
        wanted.update(stack.layer_paths())
        if stack.self_attention.fused:
            wanted["self_attention.qkv_layout"] = stack.self_attention.qkv_layout
        for key, value in wanted.items():
            got = mine.fields.get(key, Guess(None, "")).value if mine else None
            pairs.append((f"{stack.name}.{key}", value, got))
    if spec.heads is not None:
        for entry in spec.heads.mapped:
            got = result.heads.get(entry.class_name, Guess(None, "")).value
            wanted = entry.head_type
            if got == "classification" and wanted == "multilabel_classification":
                got = wanted
            pairs.append((f"heads[{entry.class_name}]", wanted, got))
    mismatches = [f"{key}: spec {want!r}, draft {got!r}" for key, want, got in pairs if want != got]
    return len(pairs) - len(mismatches), len(pairs), mismatches
