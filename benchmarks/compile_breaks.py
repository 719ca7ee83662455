"""Which adapter methods and composition blocks compile without graph breaks (torch.compile, eager backend, CPU).

    python benchmarks/compile_breaks.py [--arch bert] [--out docs/compile.md]

Not a test: it measures and writes a table. Per method, the adapter model of the architecture (the suite's tiny
model, a classification head) gets one adapter of that method, active (the first row: no adapter, the baseline); per block, two LoRA adapters (two bottleneck
adapters for Fuse) composed by it. Each forward is compiled with ``fullgraph=True`` on the eager backend, which fails
on the first graph break and says why; the compiled outputs are compared with the eager ones. ``--explain`` also
traces it with ``torch._dynamo.explain`` (how many graphs and breaks, every reason). The table says which setups
compile as one graph; the reasons of the breaks are listed once each.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from architectures import registry  # noqa: E402
from architectures.versions import installed  # noqa: E402
from conformance import impl  # noqa: E402
from conformance.implementations import load  # noqa: E402
from conformance.methods import METHODS  # noqa: E402
from conformance.models import randomize_adapter  # noqa: E402


BASELINE = "no adapter"
BLOCKS = ("Stack", "Parallel", "BatchSplit", "Split", "Average", "Fuse")
ATOL = 1e-5


@dataclass
class Outcome:
    setup: str
    graphs: int | None = None
    breaks: int | None = None
    fullgraph: bool = False
    equal: bool | None = None
    reasons: list[str] = field(default_factory=list)
    error: str | None = None


def _model(spec: Any) -> Any:
    torch.manual_seed(0)
    model = impl.adapter_model_from_config(spec)
    model.add_classification_head("task", num_labels=2)
    return model


def _inputs(spec: Any) -> dict[str, torch.Tensor]:
    config = spec.make_config()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, config.vocab_size, (2, 8), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _randomize(model: Any, name: str) -> None:
    """Adapters that start as the identity would hide a wrong compiled graph: give them small random weights."""
    with torch.no_grad():
        randomize_adapter(model, name, seed=1, std=0.05)


def plain_model(spec: Any) -> Any:
    """The baseline: the adapter model with its head and no adapter. A break here is not an adapter's."""
    return _model(spec).eval()


def method_model(spec: Any, method: str) -> Any:
    model = _model(spec)
    model.add_adapter(method, impl.make_config(METHODS[method].config))
    _randomize(model, method)
    model.set_active_adapters(method)
    return model.eval()


def block_model(spec: Any, block: str) -> Any:
    blocks = impl.composition()
    model = _model(spec)
    method = "seq_bn" if block == "Fuse" else "lora"
    for name in ("a", "b"):
        model.add_adapter(name, impl.make_config(METHODS[method].config))
        _randomize(model, name)
    if block == "Fuse":
        model.add_adapter_fusion(blocks.Fuse("a", "b"), "dynamic")
        setup = blocks.Fuse("a", "b")
    elif block == "BatchSplit":
        setup = blocks.BatchSplit("a", "b", batch_sizes=[1, 1])
    elif block == "Split":
        setup = blocks.Split("a", "b", splits=[4, 4])
    else:
        setup = getattr(blocks, block)("a", "b")
    model.set_active_adapters(setup)
    return model.eval()


def _first_line(text: str) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else "unknown"
    return re.sub(r"0x[0-9a-f]+", "0x…", line)[:200]


ROOT = Path(__file__).resolve().parents[1]


def _where(frame: Any) -> str:
    path = Path(frame.filename)
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    return f"{shown}:{frame.lineno} ({frame.name})"


def _reason(text: str, frames: Any = ()) -> str:
    """The first line of a break, what Dynamo says it could not trace, and the line of ours that did it."""
    lines = [line.strip() for line in str(text).splitlines()]
    explanation = next((line.removeprefix("Explanation: ") for line in lines if line.startswith("Explanation:")), "")
    where = _where(frames[-1]) if frames else ""
    if not where:  # a fullgraph error names the user code in its text
        found = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', str(text))
        if found:
            path, line, name = found[-1]
            where = _where(type("Frame", (), {"filename": path, "lineno": line, "name": name}))
    return " — ".join(filter(None, [_first_line(text), _first_line(explanation), where]))


def _logits(output: Any) -> torch.Tensor:
    logits = output.logits if hasattr(output, "logits") else output[0]
    return logits[0] if isinstance(logits, (list, tuple)) else logits  # Parallel: one output per branch


def measure(setup: str, model: Any, inputs: dict[str, torch.Tensor], explain: bool = False) -> Outcome:
    """Compile with fullgraph=True (one trace: it fails at the first graph break, whose reason is kept); with
    ``explain``, also count the graphs and breaks of a tracing that goes on past them (a second trace)."""
    outcome = Outcome(setup)
    try:
        with torch.no_grad():
            expected = _logits(model(**inputs))
            if explain:
                torch._dynamo.reset()
                explained = torch._dynamo.explain(model)(**inputs)
                outcome.graphs = explained.graph_count
                outcome.breaks = explained.graph_break_count
                outcome.reasons = sorted({_reason(b.reason, b.user_stack) for b in explained.break_reasons})
            torch._dynamo.reset()
            try:
                actual = _logits(torch.compile(model, backend="eager", fullgraph=True)(**inputs))
            except Exception as err:  # noqa: BLE001  (a graph break under fullgraph=True is the measurement)
                if not outcome.reasons:
                    outcome.reasons = [_reason(f"{type(err).__name__}: {err}")]
            else:
                outcome.fullgraph = True
                outcome.equal = bool(torch.allclose(actual, expected, atol=ATOL, rtol=0))
    except Exception as err:  # noqa: BLE001  (a setup that does not run is a row of the table)
        outcome.error = _first_line(f"{type(err).__name__}: {err}")
    finally:
        torch._dynamo.reset()
    return outcome


def render(arch: str, outcomes: list[Outcome], command: str | None = None) -> str:
    transformers = installed("transformers") or "?"
    lines = [
        f"# torch.compile without graph breaks: {arch}",
        "",
        f"Generated by `{command or f'python benchmarks/compile_breaks.py --arch {arch}'}` (do not edit by hand) "
        f"with torch "
        f"{torch.__version__}, transformers {transformers}, implementation "
        f"`{impl.current().name}`: the tiny {arch} adapter model with a classification head, eval mode, no "
        "gradients, the eager backend on the CPU. *one graph*: `torch.compile(..., fullgraph=True)` compiled it "
        "(else the reason of the first break); *graphs / breaks*: what `torch._dynamo.explain` found (with "
        f"`--explain`); *equal*: compiled logits within {ATOL:g} of eager ones.",
        "",
    ]
    counted = any(o.graphs is not None for o in outcomes)  # with --explain
    lines += (
        ["| setup | one graph | graphs | breaks | equal | first reason |", "|---|---|---|---|---|---|"]
        if counted
        else ["| setup | one graph | equal | first reason |", "|---|---|---|---|"]
    )
    baseline = outcomes[0].reasons[:1] if outcomes and outcomes[0].setup == BASELINE else []
    for o in outcomes:
        counts = [_count(o.graphs), _count(o.breaks)] if counted else []
        if o.error:
            lines.append("| " + " | ".join([o.setup, "error", *([""] * len(counts)), "", _cell(o.error)]) + " |")
            continue
        reason = (
            ""
            if not o.reasons
            else "as with no adapter"
            if o is not outcomes[0] and o.reasons[:1] == baseline
            else _cell(o.reasons[0])
        )
        equal = "" if o.equal is None else "✅" if o.equal else "❌"
        lines.append("| " + " | ".join([o.setup, "✅" if o.fullgraph else "❌", *counts, equal, reason]) + " |")
    whole = [o.setup for o in outcomes if o.fullgraph and not o.error]
    broken = [o.setup for o in outcomes if not o.fullgraph or o.error]
    lines += [
        "",
        f"One graph: {', '.join(whole) or 'none'}.",
        "",
        f"Graph breaks or errors: {', '.join(broken) or 'none'}.",
    ]
    reasons: dict[str, list[str]] = {}
    for o in outcomes:
        for reason in o.reasons:
            reasons.setdefault(reason, []).append(o.setup)
    if reasons:
        lines += ["", "## Break reasons", ""]
        lines += [f"- {', '.join(setups)}: {_cell(reason)}" for reason, setups in reasons.items()]
    return "\n".join(lines) + "\n"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'")[:240] + "`"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="bert", help="a registered architecture (default: bert)")
    parser.add_argument("--impl", default="reference", help="implementation under test (default: reference)")
    parser.add_argument("--method", action="append", default=[], help="methods (default: all); repeatable")
    parser.add_argument("--no-blocks", action="store_true", help="methods only")
    parser.add_argument("--explain", action="store_true", help="also count graphs and breaks (a second trace)")
    parser.add_argument("--out", help="write the markdown table here (default: print it)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    impl.use(load(args.impl))
    spec = registry.get(args.arch)
    inputs = _inputs(spec)
    outcomes = []
    todo = [(BASELINE, lambda: plain_model(spec))]
    todo += [(m, lambda m=m: method_model(spec, m)) for m in args.method or METHODS]
    if not args.no_blocks:
        todo += [(b, lambda b=b: block_model(spec, b)) for b in BLOCKS]
    for setup, build in todo:
        if setup in METHODS and spec.gap_reason(METHODS[setup].feature, setup):
            continue
        try:
            model = build()
        except Exception as err:  # noqa: BLE001
            outcomes.append(Outcome(setup, error=_first_line(f"{type(err).__name__}: {err}")))
            continue
        outcomes.append(measure(setup, model, inputs, args.explain))
        o = outcomes[-1]
        print(f"{setup}: one graph {o.fullgraph}, breaks {o.breaks}, equal {o.equal} {o.error or ''}", file=sys.stderr)
    text = render(args.arch, outcomes, shlex.join(["python", "benchmarks/compile_breaks.py", *sys.argv[1:]]))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
