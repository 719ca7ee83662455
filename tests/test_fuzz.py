"""Fuzzing ``add_adapter`` with config dicts and ``set_active_adapters`` with composition trees, from a seeded
generator (reproducible: the failing case is printed). Every input either works, and the model's output is finite,
or raises a ValueError or TypeError with a message, and then nothing changed. Run with ``-s`` for the counts.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from typing import Any

import pytest
import torch

from architectures.bert import SPEC as BERT
from architectures.live import build_model
from reference_impl import Average, BatchSplit, Fuse, Parallel, Split, Stack, init
from reference_impl.configs import CONFIG_CLASSES


CONFIG_CASES = 240
TREE_CASES = 240
NAMES = ("a", "b", "c", "missing")
SEQ_LEN = 8
BATCH = 3

VALUES: tuple[Any, ...] = (
    -2, -1, 0, 1, 2, 3, 4, 7, 8, 16, 64, 0.0, 0.5, 1.0, -1.0, 1e-3, 1e3, math.nan, math.inf, True, False, None,
    "q", "x", "relu", "all", "", "lora", "identity", [0], [0, 1], [5], ["q", "v"], ["x"], [], {"config": "lora"}, {},
)  # fmt: skip


def _field_values(field: dataclasses.Field) -> list[Any]:
    """Values of the field's kind (more likely to pass its checks), mixed with anything from VALUES."""
    default = field.default if field.default is not dataclasses.MISSING else None
    return [default, *VALUES] if default is not None else list(VALUES)


def random_config(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(["lroa", "seq-bn", "", 3, None, ["lora"]])  # not a config at all
    name = rng.choice(sorted(CONFIG_CLASSES))
    if roll < 0.15:
        return name
    fields = [f for f in dataclasses.fields(CONFIG_CLASSES[name]) if f.init]
    config: dict[str, Any] = {"config": name}
    for field in rng.sample(fields, k=rng.randint(0, min(3, len(fields)))):
        config[field.name] = rng.choice(_field_values(field))
    if rng.random() < 0.1:
        config[rng.choice(["rank", "reduction", "adapter_size"])] = 4  # an unknown key
    return config


def random_name(rng: random.Random) -> str:
    return rng.choice(NAMES[:-1]) if rng.random() < 0.9 else NAMES[-1]


def random_tree(rng: random.Random, depth: int = 0) -> Any:
    if depth >= 3 or rng.random() < 0.3:
        return random_name(rng)
    kind = rng.choice(["stack", "parallel", "split", "batch_split", "average", "fuse", "list", "string"])
    children = [random_tree(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    if kind == "list":
        return children
    if kind == "string":
        return ",".join(random_name(rng) for _ in children)
    if kind == "fuse":
        return Fuse(*[random_name(rng) for _ in children])
    if kind == "stack":
        return Stack(*children)
    if kind == "parallel":
        return Parallel(*children)
    n = len(children)
    if kind == "split":
        return Split(
            *children, splits=rng.choice([[SEQ_LEN // n] * (n - 1) + [SEQ_LEN - SEQ_LEN // n * (n - 1)], 4, [-1] * n])
        )
    if kind == "batch_split":
        return BatchSplit(*children, batch_sizes=rng.choice([[1] * (n - 1) + [BATCH - n + 1], 1, [2] * n, [-1] * n]))
    weights = rng.choice([None, [1.0] * n, [math.nan] + [1.0] * (n - 1), [math.inf] + [1.0] * (n - 1), [1.0, -1.0]])
    return Average(*children, weights=weights, normalize_weights=rng.random() < 0.8)


@pytest.fixture(scope="module")
def model() -> Any:
    torch.manual_seed(0)
    model = init(build_model(BERT)).eval()
    model.add_adapter("a", "lora")
    model.add_adapter("b", {"config": "seq_bn", "init_weights": "mam"})
    model.add_adapter("c", "par_bn")
    model.add_adapter_fusion(Fuse("b", "c"))
    return model


INPUTS = {
    "input_ids": torch.randint(2, 100, (BATCH, SEQ_LEN), generator=torch.Generator().manual_seed(0)),
    "attention_mask": torch.ones(BATCH, SEQ_LEN, dtype=torch.long),
}


def fingerprint(model: Any) -> tuple[Any, ...]:
    """What must not change after a refused input; weights are compared by their sum and keys (cheap, and a change
    of any tensor shows: every case compares with the state right before it)."""
    state = model.state_dict()
    total = sum(float(v.double().sum()) for v in state.values() if v.is_floating_point())
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return (
        tuple(state),
        total,
        dict(model.adapters_config),
        model.active_adapters,
        hooks,
        dict(model.adapter_state.fusions),
    )


def finite_output(model: Any) -> bool:
    with torch.no_grad():
        return bool(torch.isfinite(model(**INPUTS).last_hidden_state).all())


def refused(error: BaseException) -> str:
    """The kind of a refusal; anything other than a ValueError or TypeError with a message fails the test."""
    assert isinstance(error, (ValueError, TypeError)), f"{type(error).__name__}: {error}"
    assert str(error).strip(), f"{type(error).__name__} without a message"
    return type(error).__name__


def test_fuzzed_configs_work_or_are_refused_cleanly(model):
    rng = random.Random(12)
    counts: Counter[str] = Counter()
    for case in range(CONFIG_CASES):
        config = random_config(rng)
        before = fingerprint(model)
        try:
            model.add_adapter("fuzz", config, set_active=True)
        except Exception as error:  # noqa: BLE001 - every kind of failure is judged below
            counts[f"refused ({refused(error)})"] += 1
            assert fingerprint(model) == before, f"case {case}: a refused config changed the model: {config!r}"
            continue
        try:
            assert finite_output(model), f"case {case}: non-finite output with {config!r}"
        except (ValueError, TypeError, RuntimeError) as error:
            raise AssertionError(f"case {case}: {config!r} was accepted but the forward failed: {error}") from error
        counts["worked"] += 1
        model.delete_adapter("fuzz")
        model.set_active_adapters(before[3])
        assert fingerprint(model) == before, f"case {case}: delete_adapter left something behind: {config!r}"
    print(f"fuzzed configs: {CONFIG_CASES} cases, {dict(counts)}")
    assert counts["worked"] >= CONFIG_CASES // 10 and sum(counts.values()) == CONFIG_CASES


def test_fuzzed_composition_trees_work_or_are_refused_cleanly(model):
    rng = random.Random(34)
    counts: Counter[str] = Counter()
    for case in range(TREE_CASES):
        before = fingerprint(model)
        try:
            tree = random_tree(rng)
            model.set_active_adapters(tree)
        except Exception as error:  # noqa: BLE001 - every kind of failure is judged below
            counts[f"refused ({refused(error)})"] += 1
            assert fingerprint(model) == before, f"case {case}: a refused setup changed the model"
            continue
        try:
            assert finite_output(model), f"case {case}: non-finite output with {tree!r}"
            counts["worked"] += 1
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001 - sizes that do not fit the batch are only known at the forward
            counts[f"refused at the forward ({refused(error)})"] += 1
        model.set_active_adapters(None)
        assert fingerprint(model)[:3] == before[:3], f"case {case}: running {tree!r} changed the weights"
    print(f"fuzzed composition trees: {TREE_CASES} cases, {dict(counts)}")
    assert counts["worked"] >= TREE_CASES // 10 and sum(counts.values()) == TREE_CASES
