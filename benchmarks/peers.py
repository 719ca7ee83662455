"""Training and inference cost of each adapter method, reference implementation beside AdapterHub and PEFT.

    python benchmarks/peers.py [--model bert-base|llama-small] [--steps 6] [--memory]

Not a test: it prints a table. Every method is measured relative to the same model in the same process: a training
step relative to full fine-tuning, a forward pass relative to the plain model. Variants are timed in turns (one step
of each, again and again), so a slow spell of a shared machine hits them alike; read the ratios, not the seconds.
AdapterHub ``adapters`` and ``peft`` are measured where they are installed (``adapters`` 1.3 needs transformers
4.57.x: run this with a venv that has both, e.g. the one `tox -e adapters` builds); a missing one is a note, not an
error. ``--memory`` also runs each variant in a subprocess of its own and reports the peak resident memory its
training steps added, relative to full fine-tuning's.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from architectures.versions import installed  # noqa: E402


MODELS: dict[str, dict[str, Any]] = {
    # BERT-base sizes with 6 layers (the earlier measurement's model); batch 8 x 128
    "bert-base": {
        "family": "bert",
        "config": {
            "vocab_size": 2000, "hidden_size": 768, "num_hidden_layers": 6, "num_attention_heads": 12,
            "intermediate_size": 3072, "max_position_embeddings": 512,
        },
        "targets": {"q": "query", "k": "key", "v": "value", "ffn_in": "intermediate.dense"},
    },
    "llama-small": {
        "family": "llama",
        "config": {
            "vocab_size": 2000, "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8,
            "num_key_value_heads": 4, "intermediate_size": 1376, "max_position_embeddings": 512,
        },
        "targets": {"q": "q_proj", "k": "k_proj", "v": "v_proj", "ffn_in": "up_proj"},
    },
}  # fmt: skip

# The methods, as the suite's config dicts (AdapterHub's names and defaults where a field is left out).
METHODS: dict[str, dict[str, Any]] = {
    "seq_bn": {"config": "seq_bn", "reduction_factor": 16},
    "lora": {"config": "lora", "r": 8, "alpha": 16},
    "ia3": {"config": "ia3"},
    "dora": {"config": "dora", "r": 8, "alpha": 16},
    "prefix_tuning": {"config": "prefix_tuning", "prefix_length": 30},
    "prompt_tuning": {"config": "prompt_tuning", "prompt_length": 10},
    "compacter": {"config": "compacter"},
    "loreft": {"config": "loreft", "r": 1},
}
FULL = "full fine-tuning"


def build_base(model: str) -> torch.nn.Module:
    import transformers

    family = MODELS[model]["family"]
    config_class = transformers.AutoConfig.for_model(family).__class__
    torch.manual_seed(0)
    return transformers.AutoModel.from_config(config_class(**MODELS[model]["config"])).train()


# ----- each implementation: (base model, method) -> a model whose trainable parameters are the method's -----
def reference(base: torch.nn.Module, method: dict[str, Any]) -> torch.nn.Module:
    from reference_impl import init

    model = init(base)
    model.add_adapter("a", method)
    model.train_adapter("a")
    return model


def adapterhub(base: torch.nn.Module, method: dict[str, Any]) -> torch.nn.Module:
    import adapters

    from conformance.impls.adapters.configs import to_adapters_config

    adapters.init(base)
    base.add_adapter("a", config=to_adapters_config(method))
    base.train_adapter("a")
    return base


def peft_model(base: torch.nn.Module, method: dict[str, Any], model: str) -> torch.nn.Module | None:
    import peft

    targets = MODELS[model]["targets"]
    name = method["config"]
    if name in ("lora", "dora"):
        config = peft.LoraConfig(
            r=method["r"], lora_alpha=method["alpha"], target_modules=[targets["q"], targets["v"]],
            use_dora=name == "dora",
        )  # fmt: skip
    elif name == "ia3":
        modules = [targets["k"], targets["v"], targets["ffn_in"]]
        config = peft.IA3Config(target_modules=modules, feedforward_modules=[targets["ffn_in"]])
    elif name == "prefix_tuning":
        config = peft.PrefixTuningConfig(task_type="FEATURE_EXTRACTION", num_virtual_tokens=method["prefix_length"])
    elif name == "prompt_tuning":
        config = peft.PromptTuningConfig(task_type="FEATURE_EXTRACTION", num_virtual_tokens=method["prompt_length"])
    else:
        return None  # PEFT has no such method
    return peft.get_peft_model(base, config)


IMPLEMENTATIONS: dict[str, tuple[str, Callable[..., torch.nn.Module | None]]] = {
    "reference": ("torch", lambda base, method, model: reference(base, method)),
    "adapters": ("adapters", lambda base, method, model: adapterhub(base, method)),
    "peft": ("peft", peft_model),
}


def available() -> dict[str, str]:
    """Implementation -> "" when usable here, else why not."""
    notes = {}
    for name, (package, _) in IMPLEMENTATIONS.items():
        if importlib.util.find_spec(package) is None:
            notes[name] = f"{package} is not installed"
        elif name == "adapters" and not (installed("transformers") or "").startswith("4.57"):
            notes[name] = f"adapters 1.3 needs transformers 4.57.x, this is {installed('transformers')}"
        else:
            notes[name] = ""
    return notes


def variant(model: str, impl: str, method: str, base: torch.nn.Module) -> torch.nn.Module | None:
    if method == FULL:
        return copy.deepcopy(base)
    return IMPLEMENTATIONS[impl][1](copy.deepcopy(base), METHODS[method], model)


def inputs_for(model: str, batch: int, seq: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    ids = torch.randint(1, MODELS[model]["config"]["vocab_size"], (batch, seq), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, inputs: dict[str, torch.Tensor]) -> None:
    # a loss every implementation's output supports: the hidden states themselves
    loss = model(**inputs).last_hidden_state.pow(2).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def build_variants(model: str, notes: dict[str, str]) -> dict[tuple[str, str], torch.nn.Module]:
    base = build_base(model)
    built: dict[tuple[str, str], torch.nn.Module] = {("-", FULL): variant(model, "-", FULL, base)}
    for method in METHODS:
        for impl in IMPLEMENTATIONS:
            if notes[impl]:
                continue
            try:
                made = variant(model, impl, method, base)
            except Exception as err:  # a peer that cannot build a method is reported, not fatal
                print(f"  {impl} {method}: could not build ({type(err).__name__}: {str(err)[:120]})")
                continue
            if made is not None:
                built[(impl, method)] = made
    return built


def time_in_turns(runs: dict[Any, Callable[[], Any]], repeats: int, warmup: int) -> dict[Any, list[float]]:
    times: dict[Any, list[float]] = {key: [] for key in runs}
    for turn in range(warmup + repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            if turn >= warmup:
                times[key].append(time.perf_counter() - start)
    return times


def turn_ratios(times: dict[Any, list[float]], baseline: Any) -> dict[Any, float]:
    return {
        key: statistics.median(v / b for v, b in zip(values, times[baseline], strict=True))
        for key, values in times.items()
    }


def memory_of(model: str, impl: str, method: str, batch: int, seq: int) -> float:
    """Peak resident MB that two training steps add, in a fresh subprocess (ru_maxrss is a per-process peak)."""
    code = (
        "import sys, json; sys.argv = ['peers']; import benchmarks.peers as p; "
        f"print(json.dumps(p.measure_memory({model!r}, {impl!r}, {method!r}, {batch}, {seq})))"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return float(done.stdout.strip().splitlines()[-1])


def measure_memory(model: str, impl: str, method: str, batch: int, seq: int) -> float:
    torch.set_num_threads(1)
    # the variant is built on the base itself, not on a copy: memory a freed copy leaves behind would be reused by
    # training without raising the peak, and full fine-tuning measured 0 MB that way
    base = build_base(model)
    made = base if method == FULL else IMPLEMENTATIONS[impl][1](base, METHODS[method], model)
    inputs = inputs_for(model, batch, seq)
    optimizer = torch.optim.AdamW(trainable(made), lr=1e-4)
    before = peak_rss_mb()
    for _ in range(2):
        train_step(made, optimizer, inputs)
    return peak_rss_mb() - before


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` survives exec: a child of a large parent (this
    script holds every variant) starts at the parent's peak and measured 0 MB; ``VmHWM`` belongs to the new image."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="bert-base")
    parser.add_argument("--steps", type=int, default=6, help="timed training steps and forwards per variant")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: less noise)")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory, one subprocess a variant")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    notes = available()
    print(
        f"{args.model}: {MODELS[args.model]['config']}; batch {args.batch} x seq {args.seq}; {args.threads} thread(s)"
    )
    print(
        f"python {platform.python_version()}, torch {installed('torch')}, transformers {installed('transformers')}, "
        f"adapters {installed('adapters') or '-'}, peft {installed('peft') or '-'}"
    )
    for impl, note in notes.items():
        if note:
            print(f"  {impl}: not measured ({note})")

    models = build_variants(args.model, notes)
    inputs = inputs_for(args.model, args.batch, args.seq)
    optimizers = {key: torch.optim.AdamW(trainable(m), lr=1e-4) for key, m in models.items()}
    train_runs = {key: (lambda m=m, o=optimizers[key]: train_step(m.train(), o, inputs)) for key, m in models.items()}
    train = turn_ratios(time_in_turns(train_runs, args.steps, args.warmup), ("-", FULL))

    def infer(model: torch.nn.Module) -> None:
        with torch.no_grad():
            model.eval()(**inputs)

    infer_runs = {key: (lambda m=m: infer(m)) for key, m in models.items()}
    infer_times = time_in_turns(infer_runs, args.steps, args.warmup)
    inference = turn_ratios(infer_times, ("-", FULL))
    total = sum(p.numel() for p in models[("-", FULL)].parameters())

    rows = []
    for key, model in models.items():
        share = sum(p.numel() for p in trainable(model)) / total
        row = {"impl": key[0], "method": key[1], "train": train[key], "infer": inference[key], "trainable": share}
        if args.memory:
            try:
                row["memory"] = memory_of(args.model, *key, args.batch, args.seq) if key[0] != "-" else None
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                row["memory_error"] = str(err)[:120]
        rows.append(row)
    if args.memory:
        full = memory_of(args.model, "-", FULL, args.batch, args.seq)
        for row in rows:
            row["memory"] = 1.0 if row["impl"] == "-" else (row.get("memory") or float("nan")) / full

    print(f"\n{'method':<16} {'impl':<10} {'train step':>11} {'inference':>10} {'trainable':>10}", end="")
    print(f" {'peak memory':>12}" if args.memory else "")
    print(f"{'':<16} {'':<10} {'vs full FT':>11} {'vs plain':>10} {'share':>10}", end="")
    print(f" {'vs full FT':>12}" if args.memory else "")
    for row in rows:
        line = f"{row['method']:<16} {row['impl']:<10} {row['train']:>10.2f}x {row['infer']:>9.2f}x "
        line += f"{row['trainable'] * 100:>9.2f}%"
        if args.memory:
            line += f" {row['memory']:>11.2f}x"
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
