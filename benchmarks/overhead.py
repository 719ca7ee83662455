"""Forward-pass overhead of the reference implementation on a small BERT (not a test; run it by hand).

    python benchmarks/overhead.py [--repeats 30] [--threads 1]

Every variant is a copy of one model with identical base weights. The variants are timed in turns (one forward of
each, again and again), so that a slow spell of a noisy machine hits all of them alike; compare the ratios.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from architectures.versions import installed  # noqa: E402
from reference_impl import init  # noqa: E402


HIDDEN, LAYERS, HEADS, FFN, VOCAB = 256, 4, 4, 1024, 1000
LORA = {"config": "lora", "r": 8, "alpha": 16, "attn_matrices": ["q", "k", "v", "o"], "output_lora": True}
SEQ_BN = {"config": "seq_bn", "reduction_factor": 16}


def small_bert() -> torch.nn.Module:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=FFN, max_position_embeddings=512,
    )  # fmt: skip
    return BertModel(config).eval()


@torch.no_grad()
def randomize(model: Any, name: str) -> None:
    # non-trivial weights, so that an active adapter really computes something
    generator = torch.Generator().manual_seed(1)
    for _, param in sorted(model.adapter_parameters(name).items()):
        param.copy_(torch.randn(param.shape, generator=generator) * 0.02)


def with_adapter(base: torch.nn.Module, config: dict, active: bool, merged: bool = False) -> torch.nn.Module:
    model = init(copy.deepcopy(base))
    model.add_adapter("a", config)
    randomize(model, "a")
    if active:
        model.set_active_adapters("a")
    if merged:
        model.merge_adapter("a")
    return model


def variants(base: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {
        "plain model": base,
        "init(), no adapter": init(copy.deepcopy(base)),
        "inactive lora": with_adapter(base, LORA, active=False),
        "active seq_bn": with_adapter(base, SEQ_BN, active=True),
        "active lora": with_adapter(base, LORA, active=True),
        "lora merged (active)": with_adapter(base, LORA, active=True, merged=True),
    }


def check_outputs(models: dict[str, torch.nn.Module], inputs: dict[str, torch.Tensor]) -> list[str]:
    """What each variant computes, against the plain model: so that a fast variant is not fast by doing nothing."""
    with torch.inference_mode():
        outs = {name: model(**inputs).last_hidden_state for name, model in models.items()}
    plain, lora = outs["plain model"], outs["active lora"]
    return [
        f"  {name:<22} max |out - plain| = {(out - plain).abs().max().item():.2e}"
        + (f"   max |out - active lora| = {(out - lora).abs().max().item():.2e}" if "merged" in name else "")
        for name, out in outs.items()
    ]


def time_in_turns(models: dict[str, Callable[[], Any]], repeats: int, warmup: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for turn in range(warmup + repeats):
            for name, run in models.items():
                start = time.perf_counter()
                run()
                elapsed = time.perf_counter() - start
                if turn >= warmup:
                    times[name].append(elapsed)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed forwards per variant (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed forwards per variant first (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: less noise)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    base = small_bert()
    models = variants(base)
    generator = torch.Generator().manual_seed(2)
    ids = torch.randint(1, VOCAB, (args.batch, args.seq), generator=generator)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    print(
        f"BERT hidden {HIDDEN}, {LAYERS} layers, {HEADS} heads, FFN {FFN}; batch {args.batch} x seq {args.seq}; "
        f"{args.threads} thread(s); {args.repeats} repeats after {args.warmup} warm-up"
    )
    print(
        f"python {platform.python_version()}, torch {installed('torch')}, transformers {installed('transformers')}, "
        f"{platform.machine()}"
    )
    print("outputs:")
    print("\n".join(check_outputs(models, inputs)))

    runs = {name: (lambda m=model: m(**inputs)) for name, model in models.items()}
    times = time_in_turns(runs, args.repeats, args.warmup)
    plain_times = times["plain model"]
    plain = statistics.median(plain_times)
    print(f"\n{'variant':<22} {'median ms':>10} {'IQR ms':>15} {'ratio of medians':>17} {'median turn ratio':>18}")
    for name, values in times.items():
        median = statistics.median(values)
        q1, _, q3 = statistics.quantiles(values, n=4)
        # the same turn's plain forward ran moments before: its ratio cancels most of the machine's drift
        turn_ratio = statistics.median(v / p for v, p in zip(values, plain_times, strict=True))
        iqr = f"{q1 * 1e3:.2f}-{q3 * 1e3:.2f}"
        print(f"{name:<22} {median * 1e3:>10.2f} {iqr:>15} {median / plain:>16.3f}x {turn_ratio:>17.3f}x")


if __name__ == "__main__":
    main()
