"""Building tiny live models from a spec and finding the spec's paths on them. Imports torch lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import ArchitectureSpec, LayerStackSpec, ModuleLayout


if TYPE_CHECKING:
    import torch


MODEL_SEED = 0


def model_class(spec: ArchitectureSpec, class_name: str | None = None) -> type:
    import transformers

    name = class_name or spec.base_class
    cls = getattr(transformers, name, None)
    if cls is None:
        field = "base_class" if name == spec.base_class else "head_classes"
        raise ValueError(
            f"ArchitectureSpec.{field} has {name!r} in {spec.module or spec.name}, but transformers "
            f"{transformers.__version__} has no such class; fix the class name in the spec or declare it a gap"
        )
    return cls


def build_model(spec: ArchitectureSpec, class_name: str | None = None) -> torch.nn.Module:
    """A freshly initialised tiny model, identical for identical arguments, in eval mode."""
    import torch

    cls = model_class(spec, class_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(MODEL_SEED)
        model = cls(spec.make_config())
    return model.eval()


def get_path(root: Any, path: str) -> Any:
    """``root.a.b.0.c`` for ``path='a.b.0.c'``; raises AttributeError naming the missing part, its parent and the
    closest names that do exist there."""
    current = root
    walked = []
    for part in path.split("."):
        if part.isdigit() and hasattr(current, "__getitem__") and not hasattr(current, part):
            try:
                current = current[int(part)]
            except IndexError:
                raise AttributeError(f"{'.'.join(walked) or type(root).__name__} has no item {part}") from None
        elif hasattr(current, part):
            current = getattr(current, part)
        else:
            parent = f"{'.'.join(walked)} ({type(current).__name__})" if walked else type(root).__name__
            raise AttributeError(f"{parent} has no attribute {part!r}{_hint(current, part)}")
        walked.append(part)
    return current


MAX_LISTED_NAMES = 12


def _hint(module: Any, missing: str) -> str:
    """The names that exist on ``module``: the closest ones to ``missing`` first, else the submodules."""
    import difflib

    children = [name for name, _ in module.named_children()] if hasattr(module, "named_children") else []
    params = (
        [name for name, _ in module.named_parameters(recurse=False)] if hasattr(module, "named_parameters") else []
    )
    names = children + params
    if not names:
        return ""
    close = difflib.get_close_matches(missing, names, n=3, cutoff=0.5)
    if close:
        return f"; did you mean {' or '.join(repr(n) for n in close)}?"
    listed = ", ".join(names[:MAX_LISTED_NAMES]) + (", ..." if len(names) > MAX_LISTED_NAMES else "")
    return f"; it has: {listed}"


def base_model(model: Any) -> Any:
    """The model's base (transformer without head). transformers finds it by ``base_model_prefix``, and some classes
    name an attribute they do not have (transformers 4.57's Gemma3ForCausalLM: 'language_model', base at ``.model``,
    where transformers keeps it by convention)."""
    base = getattr(model, "base_model", model)
    inner = getattr(model, "model", None) if base is model else None
    if inner is not None and hasattr(inner, "base_model_prefix") and hasattr(inner, "config"):
        return inner
    return base


def missing_paths(layout: ModuleLayout, model: Any) -> list[str]:
    """Every path of ``layout`` that does not exist on ``model``, as 'field=value: why'."""
    config = getattr(model, "config", None)
    problems = [
        f"config.{name}={getattr(config, name, None)!r}: the layout is for {name}={value!r}"
        for name, value in layout.config
        if getattr(config, name, None) != value
    ]
    root = base_model(model)
    try:
        get_path(root, layout.embeddings)
    except AttributeError as err:
        problems.append(f"embeddings={layout.embeddings!r}: {err}")
    for stack in layout.stacks:
        problems.extend(_missing_in_stack(stack, root))
    return problems


def _missing_in_stack(stack: LayerStackSpec, root: Any) -> list[str]:
    try:
        layers = get_path(root, stack.path)
    except AttributeError as err:
        return [f"{stack.name}.path={stack.path!r}: {err}"]
    if len(layers) == 0:
        return [f"{stack.name}.path={stack.path!r}: the layer list is empty"]
    # The same problem in every layer is said once, naming the layers it holds in.
    found: dict[tuple[str, str], list[int]] = {}
    for index, layer in enumerate(layers):
        for field_name, path in stack.layer_paths().items():
            try:
                get_path(layer, path)
            except AttributeError as err:
                key = (f"{stack.name}.{field_name}={path!r}", f"({type(layer).__name__}): {err}")
                found.setdefault(key, []).append(index)
    return [f"{field} in {_layers(indices, len(layers))} {why}" for (field, why), indices in found.items()]


def _layers(indices: list[int], count: int) -> str:
    if len(indices) == count and count > 1:
        return f"every layer (0-{count - 1})"
    return f"layer {indices[0]}" if len(indices) == 1 else f"layers {', '.join(map(str, indices))}"


def resolve_layout(spec: ArchitectureSpec, model: Any) -> ModuleLayout:
    """The first layout of ``spec`` whose paths all exist on ``model``."""
    report = []
    for layout in spec.layouts:
        problems = missing_paths(layout, model)
        if not problems:
            return layout
        more = f"\n    ... and {len(problems) - 3} more" if len(problems) > 3 else ""
        report.append(f"  layout {layout.name!r}:\n" + "\n".join(f"    {p}" for p in problems[:3]) + more)
    raise ValueError(
        f"{spec.module or spec.name}: no module layout of spec {spec.name!r} matches {type(model).__name__} "
        "from the installed transformers:\n" + "\n".join(report)
    )


def layers_of(stack: LayerStackSpec, model: Any) -> list[Any]:
    return list(get_path(base_model(model), stack.path))
