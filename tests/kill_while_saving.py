"""Kill saves half-way and load what is left: run by tests/test_crash_safe_saving.py in a subprocess.

One process builds a tiny BERT adapter model once; each round forks a child that saves new weights over an old save,
kills it with SIGKILL after a random delay within the save's duration, and loads the folder. What is loaded must be
the old save or the new one, entirely; anything else must be a ValueError naming the problem. Prints the counts as
JSON: ``python tests/kill_while_saving.py KILLS SEED FOLDER``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch


def _weights(model: Any) -> dict[str, torch.Tensor]:
    """The adapter's and the head's tensors of adapter/head ``a``, by a name that does not depend on the model."""
    from reference_impl.persistence import _relative_keys

    found = {f"adapter.{k}": v.detach().clone() for k, v in _relative_keys(model, "a").items()}
    found.update({f"head.{k}": v.detach().clone() for k, v in model.heads["a"].own_parameters().items()})
    return found


def _set(model: Any, weights: dict[str, torch.Tensor]) -> None:
    params = {f"adapter.{k}": v for k, v in _adapter_params(model).items()}
    params.update({f"head.{k}": v for k, v in model.heads["a"].own_parameters().items()})
    with torch.no_grad():
        for key, value in weights.items():
            params[key].copy_(value)


def _adapter_params(model: Any) -> dict[str, torch.Tensor]:
    from reference_impl.persistence import NAME_PLACEHOLDER, base_prefix
    from reference_impl.sites import rename_adapter_in_key

    prefix = base_prefix(model)
    return {
        rename_adapter_in_key(k.removeprefix(prefix), NAME_PLACEHOLDER): v
        for k, v in model.adapter_parameters("a").items()
    }


def _which(loaded: dict[str, torch.Tensor], old: dict[str, torch.Tensor], new: dict[str, torch.Tensor]) -> str:
    def same(reference: dict[str, torch.Tensor]) -> bool:
        return loaded.keys() == reference.keys() and all(torch.equal(loaded[k], reference[k]) for k in reference)

    return "old" if same(old) else "new" if same(new) else "mixed"


def _kill_during(save: Any, duration: float, rng: random.Random) -> bool:
    """Fork a child that runs ``save``, SIGKILL it at a random point within ``duration``; True if it was still
    running."""
    pid = os.fork()
    if pid == 0:
        try:
            save()
        finally:
            os._exit(0)
    time.sleep(rng.uniform(0.0, duration))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status)


def _timed(action: Any) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(kills: int, seed: int, root: Path) -> dict[str, Any]:
    from transformers.utils import logging as transformers_logging

    from architectures.bert import SPEC
    from reference_impl import AdapterModel, LoRAConfig

    # tqdm's progress bars share a lock across fork: a child killed while holding it would hang the parent's next bar
    transformers_logging.disable_progress_bar()
    torch.manual_seed(seed)
    model = AdapterModel(SPEC.make_config(), SPEC)
    model.add_adapter("a", LoRAConfig(r=4))
    model.add_classification_head("a", num_labels=3)
    old = _weights(model)
    new = {k: v + 1.0 for k, v in old.items()}
    probe = AdapterModel(SPEC.make_config(), SPEC)
    rng = random.Random(seed)
    counts: dict[str, Any] = {"kills": 0, "killed_mid_save": 0, "old": 0, "new": 0, "mixed": 0, "errors": []}
    kinds = {
        "adapter": (lambda d: model.save_adapter(d, "a"), lambda d: probe.load_adapter(d, overwrite_ok=True)),
        "model": (model.save_pretrained, lambda d: AdapterModel.from_pretrained(d, SPEC)),
    }
    stretch = 1.2  # the kill window relative to the parent's save time; adapted below
    for round_index in range(kills):
        kind = "adapter" if round_index % 4 else "model"  # every fourth kill hits a whole-model save
        save, load = kinds[kind]
        folder = root / kind
        _set(model, old)
        save(folder)
        _set(model, new)
        duration = _timed(lambda save=save: save(root / "timing"))
        mid_save = _kill_during(lambda save=save, folder=folder: save(folder), stretch * duration, rng)
        counts["killed_mid_save"] += mid_save
        # A forked child starts late and saves slower than the parent, by a machine's own factor: widen the kill
        # window after a kill inside the save, narrow it after one past it, so that kills land on both sides
        stretch = stretch * 1.25 if mid_save else max(stretch / 1.25, 0.5)
        counts["kills"] += 1
        try:
            loaded = load(folder)
        except ValueError as err:
            counts["errors"].append(f"{kind}: {err}")
            continue
        loaded_model = probe if kind == "adapter" else loaded
        counts[_which(_weights(loaded_model), old, new)] += 1
    for kind, (save, _) in kinds.items():  # the next save into a folder removes what killed saves left beside it
        save(root / kind)
    counts["leftover_staging"] = sorted(p.name for p in root.iterdir() if ".saving-" in p.name)
    return counts


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))
