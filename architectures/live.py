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
    """``root.a.b.0.c`` for ``path='a.b.0.c'``; raises AttributeError naming the missing part and its parent."""
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
            parent = ".".join(walked) or type(root).__name__
            raise AttributeError(f"{parent} ({type(current).__name__}) has no attribute {part!r}")
        walked.append(part)
    return current


def base_model(model: Any) -> Any:
    return getattr(model, "base_model", model)


def missing_paths(layout: ModuleLayout, model: Any) -> list[str]:
    """Every path of ``layout`` that does not exist on ``model``, as 'field=value: why'."""
    problems = []
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
    problems = []
    for index, layer in enumerate(layers):
        for field_name, path in stack.layer_paths().items():
            try:
                get_path(layer, path)
            except AttributeError as err:
                problems.append(f"{stack.name}.{field_name}={path!r} in layer {index} ({type(layer).__name__}): {err}")
    return problems


def resolve_layout(spec: ArchitectureSpec, model: Any) -> ModuleLayout:
    """The first layout of ``spec`` whose paths all exist on ``model``."""
    report = []
    for layout in spec.layouts:
        problems = missing_paths(layout, model)
        if not problems:
            return layout
        report.append(f"  layout {layout.name!r}: " + "; ".join(problems[:3]))
    raise ValueError(
        f"{spec.module or spec.name}: no module layout of spec {spec.name!r} matches {type(model).__name__} "
        "from the installed transformers:\n" + "\n".join(report)
    )


def layers_of(stack: LayerStackSpec, model: Any) -> list[Any]:
    return list(get_path(base_model(model), stack.path))
