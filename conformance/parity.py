"""Training parity: each adapter method trained on a small learnable task beside full fine-tuning (a benchmark, run
by ``adapter-conformance train-parity --arch bert``; nothing here is a test or gates anything).

The task depends on the modality: text models classify whether a planted token occurs in a sequence of random
tokens; vision models classify in which half of the image a bright square was planted. Every run starts from the
same tiny model (the suite's), trains a classification head with the implementation under test for the same steps
(AdamW, same batches), and is evaluated on held-out examples. What is reported per method: final accuracy relative
to full fine-tuning, the trainable share of parameters, the median step time relative to full fine-tuning, and
the loss curves (a PNG per architecture, when matplotlib is installed).
"""

from __future__ import annotations

import datetime
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from conformance import impl
from conformance.methods import METHODS
from reports.parity import FULL, describe, parity_paths, render_parity_table


PLANTED = 2  # the token whose presence text models learn to detect
SEQ = 16
BATCH = 16


@dataclass
class Run:
    method: str
    accuracy: float
    trainable_share: float
    step_seconds: float
    losses: list[float] = field(default_factory=list)
    error: str | None = None


def _examples(spec: Any, count: int, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    config = spec.make_config()
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (count,), generator=generator)
    if spec.modality == "vision":
        size, channels = config.image_size, config.num_channels
        pixels = torch.rand(count, channels, size, size, generator=generator) * 0.2
        square = max(2, size // 4)
        for row in range(count):
            top = int(torch.randint(0, size // 2 - square + 1, (1,), generator=generator))
            left = int(torch.randint(0, size - square + 1, (1,), generator=generator))
            top += size // 2 if labels[row] else 0  # label 1: the square is in the lower half
            pixels[row, :, top : top + square, left : left + square] = 1.0
        return {"pixel_values": pixels}, labels
    ids = torch.randint(3, config.vocab_size, (count, SEQ), generator=generator)
    for row in torch.nonzero(labels).flatten().tolist():
        ids[row, int(torch.randint(1, SEQ - 1, (1,), generator=generator))] = PLANTED
    if spec.is_encoder_decoder:
        ids[:, -1] = config.eos_token_id
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, labels


def _batches(inputs: dict[str, torch.Tensor], labels: torch.Tensor, size: int, steps: int, seed: int) -> Iterator:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(0, len(labels), (size,), generator=generator)
        yield {k: v[rows] for k, v in inputs.items()}, labels[rows]


def _model(spec: Any, method: str | None, seed: int) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = impl.adapter_model_from_config(spec)
        kind = "image_classification" if spec.modality == "vision" else "classification"
        getattr(model, f"add_{kind}_head")("task", num_labels=2)
        if method is None:
            return model
        model.add_adapter("task", impl.make_config(METHODS[method].config))
    model.train_adapter("task")
    return model


def train_one(spec: Any, method: str | None, steps: int, batch: int, lr: float, seed: int) -> Run:
    name = method or FULL
    model = _model(spec, method, seed)
    train_inputs, train_labels = _examples(spec, 512, seed)
    test_inputs, test_labels = _examples(spec, 256, seed + 1)
    params = [p for p in model.parameters() if p.requires_grad]
    share = sum(p.numel() for p in params) / sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr)
    model.train()
    losses, times = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same dropout masks for every method's run
        for inputs, labels in _batches(train_inputs, train_labels, batch, steps, seed + 2):
            start = time.perf_counter()
            loss = model(**inputs, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - start)
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        predicted = model(**test_inputs).logits.argmax(-1)
    accuracy = float((predicted == test_labels).float().mean())
    return Run(name, accuracy, share, statistics.median(times), losses)


def applicable_methods(spec: Any, methods: Sequence[str] | None) -> list[str]:
    chosen = methods or list(METHODS)
    return [m for m in chosen if not spec.gap_reason(METHODS[m].feature, m)]


def train_parity(
    spec: Any,
    methods: Sequence[str] | None = None,
    steps: int = 150,
    batch: int = BATCH,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[Run]:
    """Full fine-tuning first, then every applicable method; a method that fails is reported, not fatal."""
    todo: list[str | None] = [None, *applicable_methods(spec, methods)]
    bar = _progress(len(todo), spec.name) if progress else None
    runs = []
    for method in todo:
        if bar is not None:
            bar.set_postfix_str(method or FULL)
        try:
            # adapters learn with a higher rate than full fine-tuning, as is usual for them
            runs.append(train_one(spec, method, steps, batch, lr if method is None else lr * 10, seed))
        except Exception as err:  # noqa: BLE001  (one method's failure is a row of the report)
            runs.append(
                Run(method or FULL, float("nan"), float("nan"), float("nan"), [], f"{type(err).__name__}: {err}")
            )
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return runs


def _progress(total: int, name: str) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"train-parity {name}", unit="run")


def report_data(spec: Any, runs: list[Run], steps: int | None = None, batch: int | None = None) -> dict[str, Any]:
    """What the JSON report holds: the runs, and what they were run with and on."""
    from architectures.versions import installed

    return {
        "arch": spec.name,
        "modality": str(getattr(spec.modality, "name", spec.modality)),
        "impl": impl.current().name,
        "steps": steps,
        "batch": batch,
        "versions": {name: installed(name) for name in ("torch", "transformers")},
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "runs": [asdict(r) for r in runs],
    }


def render_table(data: dict[str, Any]) -> str:
    return f"# Training parity: {data['arch']}\n\n{describe(data)}\n\n{render_parity_table(data)}"


def plot(spec: Any, runs: list[Run], path: Path) -> bool:
    """Loss curves of every run in one PNG; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return False
    figure, axes = pyplot.subplots(figsize=(9, 5))
    for run in runs:
        if run.losses:
            window = 10
            smooth = [statistics.mean(run.losses[max(0, i - window) : i + 1]) for i in range(len(run.losses))]
            axes.plot(smooth, label=run.method, linewidth=2.5 if run.method == FULL else 1.2)
    axes.set_title(f"{spec.name}: training loss (moving average of 10 steps)")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return True


def write_report(
    spec: Any, runs: list[Run], out: Path, steps: int | None = None, batch: int | None = None
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = parity_paths(out, spec.name)
    data = report_data(spec, runs, steps, batch)
    paths["md"].write_text(render_table(data), encoding="utf-8")
    paths["json"].write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    written = [paths["md"], paths["json"]]
    if plot(spec, runs, paths["png"]):
        written.append(paths["png"])
    return written
