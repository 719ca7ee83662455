"""Determinism and isolation of the conformance checks, on a narrow selection (BERT, LoRA and seq_bn):

- the same outcomes in three runs: in order (-n 0), in a shuffled order (-n 0), shuffled over two xdist workers;
- every check starts from the same random state wherever and whenever it runs, and one check run alone by its node id
  starts from that state too (the seed derives from the check id);
- nothing leaks from a check: attention-function registries, the architecture, config and method registries, torch's
  global hooks and switches, and the forward of every transformers class are as before it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


REPO = Path(__file__).parents[1]
SELECTION = (
    "--pyargs",
    "conformance.suite",
    "--arch=bert",
    "--method=lora,seq_bn",
    "-k",
    "Forward or Lifecycle or Seeds or Training or Persistence or Merge",
)
GUARD = '''
"""Loaded with -p: checks that nothing leaks from a check, records each check's starting random state, shuffles."""

import hashlib
import json
import os
import random
import sys

import pytest
import torch


def _registries():
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    from architectures import registry
    from reference_impl.configs import CONFIG_CLASSES
    from reference_impl.methods import FAMILIES

    found = {}
    for name, mapping in (("attention", ALL_ATTENTION_FUNCTIONS), ("masks", ALL_MASK_ATTENTION_FUNCTIONS)):
        for key in mapping.valid_keys():
            if not key.startswith("adapter_prefix"):  # registered once, delegating: added, never replaced
                found[f"{name}:{key}"] = id(mapping[key])
    found.update({f"arch:{k}": id(v) for k, v in registry._REGISTRY.items()})
    found.update({f"config:{k}": id(v) for k, v in CONFIG_CLASSES.items()})
    found.update({f"family:{k}": id(v) for k, v in FAMILIES.items()})
    return found


def _torch_globals():
    from torch.nn.modules import module

    return {
        "global hooks": tuple(len(getattr(module, name)) for name in dir(module) if name.startswith("_global_") and name.endswith("hooks")),
        "grad enabled": torch.is_grad_enabled(),
        "default dtype": str(torch.get_default_dtype()),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "threads": torch.get_num_threads(),
    }


def _class_methods():
    found = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("transformers.models.") and ".modeling_" in name:
            for attr, cls in vars(mod).items():
                if isinstance(cls, type) and cls.__module__ == name:
                    found[f"{name}.{attr}"] = (id(cls.__dict__.get("forward")), tuple(sorted(cls.__dict__)))
    found["torch.nn.Linear.forward"] = id(torch.nn.Linear.forward)
    return found


def snapshot():
    return {"registries": _registries(), "torch": _torch_globals(), "classes": _class_methods()}


@pytest.fixture(autouse=True)
def no_leaks(request, _check_id_seeds_the_global_rng):
    before = snapshot()
    digest = hashlib.sha256(torch.random.get_rng_state().numpy().tobytes()).hexdigest()[:16]
    with open(f"rng-{os.getpid()}.jsonl", "a") as out:
        out.write(json.dumps({"nodeid": request.node.nodeid, "rng": digest}) + "\\n")
    yield
    after = snapshot()
    for part in before:
        if part == "classes":  # a class imported during the check is new, not changed
            changed = sorted(k for k in before[part] if after[part].get(k) != before[part][k])
        else:
            changed = sorted(k for k in set(before[part]) | set(after[part]) if before[part].get(k) != after[part].get(k))
        assert not changed, f"leaked from the check: {part} changed: {changed[:5]}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    seed = os.environ.get("SHUFFLE_SEED")
    if seed:
        random.Random(int(seed)).shuffle(items)  # the same order on every xdist worker
'''


def outcomes(path: Path) -> dict[str, tuple[str, str]]:
    """By check id: the node id without its file part, which depends on how pytest was invoked."""
    return {c["nodeid"].split("::", 1)[1]: (c["outcome"], c["reason"]) for c in json.loads(path.read_text())["checks"]}


def starting_states(directory: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in directory.glob("rng-*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            found.setdefault(entry["nodeid"].split("::", 1)[1], set()).add(entry["rng"])
        path.unlink()
    return found


@pytest.fixture(scope="module")
def suite_preloaded(inner_preloaded: None) -> None:
    """The suite's oracles register themselves on import: import them before pytester snapshots sys.modules, or the
    second in-process run would import them again and register every oracle twice."""
    from conformance.oracles.registry import oracle_for

    oracle_for("lora")  # imports every oracle module


@pytest.fixture
def guarded(suite_preloaded: None, inner_run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    inner_run.makepyfile(leak_guard=GUARD)
    inner_run.syspathinsert()
    (inner_run.path / "test_checks.py").unlink()  # the real suite runs here
    monkeypatch.delenv("SHUFFLE_SEED", raising=False)
    return inner_run


def run(pytester: pytest.Pytester, results: str, *extra: str, shuffle: int | None = None) -> Any:
    args = (*SELECTION, "-p", "leak_guard", "-p", "no:randomly", "--results", results, *extra)
    if shuffle is None:
        return pytester.runpytest_inprocess(*args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHUFFLE_SEED", str(shuffle))
        if "-n" in extra:
            # this checkout's code, not wherever the package is installed from
            patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
            return pytester.runpytest_subprocess(*args, timeout=600)
        return pytester.runpytest_inprocess(*args)


def test_same_results_in_any_order_and_on_any_worker_and_nothing_leaks(guarded):
    run(guarded, "in_order.json")
    in_order, states = outcomes(guarded.path / "in_order.json"), starting_states(guarded.path)
    assert len(in_order) >= 20
    leaks = {n: r for n, (o, r) in in_order.items() if "leaked from the check" in r}
    assert not leaks, leaks

    run(guarded, "shuffled.json", shuffle=1)
    assert outcomes(guarded.path / "shuffled.json") == in_order
    shuffled_states = starting_states(guarded.path)

    result = run(guarded, "workers.json", "-n", "2", shuffle=2)
    assert "2 workers" in result.stdout.str()
    assert outcomes(guarded.path / "workers.json") == in_order
    worker_states = starting_states(guarded.path)

    for nodeid, state in states.items():
        assert len(state) == 1, f"{nodeid} started from different random states in one run"
        assert shuffled_states[nodeid] == state and worker_states[nodeid] == state, f"{nodeid} depends on the order"
    assert len(set().union(*states.values())) == len(states), "each check has a random state of its own"

    # one check alone, by its node id, starts from the same state and ends the same
    alone = next(n for n in sorted(in_order) if "TestTraining" in n)
    node = f"conformance.suite.test_conformance::{alone}"
    guarded.runpytest_inprocess("--pyargs", node, "-p", "leak_guard", "--results", "alone.json")
    assert outcomes(guarded.path / "alone.json") == {alone: in_order[alone]}
    assert starting_states(guarded.path) == {alone: states[alone]}


LEAKER = '''
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A check that registers an attention function and turns off gradients, and puts neither back."""
    import torch
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    ALL_ATTENTION_FUNCTIONS["leaked_by_a_check"] = lambda *args, **kwargs: None
    torch.set_grad_enabled(False)
    return (yield)
'''


def test_the_guard_sees_a_leak(guarded):
    """The leak guard above is a check of the checks: it fails a check that leaves something patched."""
    import torch
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    guarded.makepyfile(leaker=LEAKER)
    try:
        guarded.runpytest_inprocess(
            *SELECTION[:4], "-k", "test_identity_at_init", "-p", "leak_guard", "-p", "leaker", "--results", "out.json"
        )
    finally:
        for mapping in (ALL_ATTENTION_FUNCTIONS._local_mapping, ALL_ATTENTION_FUNCTIONS._global_mapping):
            mapping.pop("leaked_by_a_check", None)
        torch.set_grad_enabled(True)
    records = outcomes(guarded.path / "out.json")
    assert len(records) == 2  # test_identity_at_init of LoRA and seq_bn
    for outcome, reason in records.values():
        assert outcome == "error" and "registries changed: ['attention:leaked_by_a_check']" in reason, reason
