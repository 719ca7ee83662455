"""Where a spec came from, for certificates: its module, a sha256 of the module's source (an out-of-tree spec is told
apart from a built-in one of the same name) and the module layout that matched the installed transformers."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any


@cache  # specs are compared by identity; a run asks once per architecture for the results and once for the grid
def spec_provenance(spec: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"module": spec.module or None, "source_sha256": None, "layout": None}
    module = sys.modules.get(spec.module) if spec.module else None
    source = getattr(module, "__file__", None)
    if source and Path(source).is_file():
        found["source_sha256"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        found["source"] = _shown_path(Path(source))
    try:
        found["layout"] = asdict(_resolved_layout(spec))
    except Exception as err:  # noqa: BLE001  (a certificate still says what it could not find out)
        found["layout_error"] = f"{type(err).__name__}: {err}"
    return found


def _resolved_layout(spec: Any) -> Any:
    """The layout whose paths exist on the base model, built on the meta device (no memory, no init cost)."""
    import torch

    from architectures.live import build_model, model_class, resolve_layout

    try:
        with torch.device("meta"):
            model = model_class(spec)(spec.make_config())
    except Exception:  # noqa: BLE001  (a model whose construction needs real tensors)
        model = build_model(spec)
    return resolve_layout(spec, model)


def _shown_path(path: Path) -> str:
    """The source file relative to the folder the run started in where it lies below it, else its name in its
    package (no home folders in a certificate)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return "/".join(path.resolve().parts[-3:])
