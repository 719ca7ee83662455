"""`adapter-conformance certify` (and `scaffold`, `coverage`, `compare` from ``architectures``): run the conformance suite for a selection and write a certificate per architecture.

The suite runs in a pytest subprocess (`pytest --pyargs conformance.suite --results ...`), so the command works
wherever the package is installed, on out-of-tree specs too (`--arch=mypkg.my_arch`). The exit status is 0 only
when every selected architecture is certified: at least one check ran and every check that is not a declared gap
passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reports.atomic import write_text_atomic
from reports.certificate import attach_parity, build_certificate, render_certificate_json, render_certificate_markdown
from reports.results import load_results


DEFAULT_OUT = "certificates"
RESULTS_NAME = "results.json"
EXAMPLE = "my_arch.py"  # in conformance/examples
# pytest exit statuses that mean the run itself did not happen as asked (not: some checks failed).
_NO_VERDICT = {
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "the selection holds no check: widen --arch, --method, --feature or the -k expression",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adapter-conformance", description="Certify adapter support for transformers architectures."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    certify = commands.add_parser(
        "certify",
        help="run the conformance suite and write a certificate per architecture",
        description="Run the conformance suite for the selection and write <out>/<arch>.json and <out>/<arch>.md. "
        "Without --arch every registered architecture is certified (it says how many first). Exit status 0 only when "
        "every check that is not a declared gap passed; 2 when the suite did not run (then nothing is written). "
        "Arguments after `--` go to pytest (e.g. -- --torch-threads 2 -k lora).",
        epilog="examples: adapter-conformance certify --arch deberta; "
        "adapter-conformance certify --arch ./my_arch.py --method lora,seq_bn --out certs; "
        "adapter-conformance certify --impl=adapters --arch=gpt2",
    )
    certify.add_argument(
        "--arch",
        action="append",
        default=[],
        metavar="NAME",
        help="a registered architecture, a comma list, 'all' (the default), a spec module such as mypkg.my_arch "
        "(looked up from the current folder), or a spec file such as ./my_arch.py",
    )
    certify.add_argument(
        "--method", action="append", default=[], metavar="NAME", help="adapter methods, any case (default: all)"
    )
    certify.add_argument(
        "--feature", action="append", default=[], metavar="NAME", help="matrix features, exactly these (default: all)"
    )
    certify.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"where certificates go (default: {DEFAULT_OUT})"
    )
    certify.add_argument(
        "--impl",
        default="reference",
        metavar="NAME",
        help="the implementation under test: reference (the default), adapters (AdapterHub adapters 1.3 on "
        "transformers 4.57.x), or a module path (mypkg.my_impl)",
    )
    certify.add_argument(
        "-n",
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="pytest-xdist workers (default: 2 when pytest-xdist is installed, else none)",
    )
    certify.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    certify.set_defaults(handler=certify_command)

    parity = commands.add_parser(
        "train-parity",
        help="train every adapter method beside full fine-tuning on a small learnable task; table and loss plot",
        description="Benchmark, not a test: per method, accuracy relative to full fine-tuning, trainable share, step "
        "time, and the loss curves (<out>/<arch>.parity.png with matplotlib installed). `certify` with the same --out "
        "adds them to the certificate; with --out docs/parity, `python -m reports render` adds them to the "
        "architecture's page.",
    )
    parity.add_argument("--arch", action="append", default=[], metavar="NAME", help="architectures (comma list)")
    parity.add_argument("--method", action="append", default=[], metavar="NAME", help="methods (default: all)")
    parity.add_argument("--impl", default="reference", metavar="NAME", help="implementation under test")
    parity.add_argument("--steps", type=int, default=150, help="training steps per run (default 150)")
    parity.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"where reports go (default: {DEFAULT_OUT})")
    parity.set_defaults(handler=parity_command)

    example = commands.add_parser(
        "example",
        help="print a complete architecture spec to copy (adapter-conformance example > my_arch.py)",
        description="Print a complete architecture spec (ERNIE) to start your own from: "
        "adapter-conformance example > my_arch.py, edit it, then pytest --pyargs conformance.suite --arch=./my_arch.py",
    )
    example.set_defaults(handler=example_command)

    from architectures.__main__ import add_commands

    add_commands(commands)  # scaffold, coverage, compare
    return parser


def parity_command(args: argparse.Namespace) -> int:
    import torch

    from architectures import registry
    from reports.parity import write_summary

    from . import impl
    from .implementations import ImplementationError, load
    from .methods import METHODS
    from .parity import BATCH, train_parity, write_report

    names = [n.strip() for value in args.arch for n in value.split(",") if n.strip()]
    methods = [n.strip() for value in args.method for n in value.split(",") if n.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if not names or unknown:
        problem = f"unknown methods {unknown}; valid: {', '.join(METHODS)}" if unknown else "name --arch"
        print(f"adapter-conformance train-parity: error: {problem}", file=sys.stderr)
        return 2
    try:
        impl.use(load(args.impl))
        specs = [registry.load_builtin_module(name) for name in names]
    except (ImplementationError, KeyError, ValueError) as err:
        print(f"adapter-conformance train-parity: error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    for spec in specs:
        runs = train_parity(spec, methods or None, steps=args.steps, batch=BATCH)
        for path in write_report(spec, runs, Path(args.out), steps=args.steps, batch=BATCH):
            print(f"wrote {path}")
    summary = write_summary(args.out)  # every architecture reported in that folder, this run's and earlier ones
    if summary is not None:
        print(f"wrote {summary}")
    return 0


def example_command(args: argparse.Namespace) -> int:
    from importlib.resources import files

    sys.stdout.write(files("conformance.examples").joinpath(EXAMPLE).read_text(encoding="utf-8"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def pytest_command(args: argparse.Namespace, results: Path) -> list[str]:
    """The pytest run behind a certificate."""
    command = [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p", "no:cacheprovider"]
    command += [f"--arch={a}" for a in args.arch or ["all"]]
    command += [f"--method={m}" for m in args.method]
    command += [f"--feature={f}" for f in args.feature]
    command += [f"--impl={args.impl}"] if args.impl != "reference" else []
    command += [f"--results={results}", "-q"]
    workers = args.workers if args.workers is not None else (2 if _has_xdist() else 0)
    if workers:
        if not _has_xdist():
            print(
                "adapter-conformance certify: error: --workers needs pytest-xdist (pip install pytest-xdist)",
                file=sys.stderr,
            )
            raise SystemExit(2)
        command += ["-n", str(workers), "--dist=loadgroup"]
    extra = list(args.pytest_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return command + extra


def describe_run(args: argparse.Namespace) -> str:
    """What certify is about to do, in one line: which architectures (how many), which methods, where to."""
    from architectures.registry import builtin_names

    from .selection import split_names

    arches = split_names(args.arch) or ["all"]
    if "all" in arches:
        builtin = builtin_names()
        others = [a for a in arches if a != "all"]
        what = f"all {len(builtin)} registered architectures ({', '.join(builtin)})" + (
            f" and {', '.join(others)}" if others else ""
        )
    else:
        what = f"{len(arches)} architecture{'s' if len(arches) != 1 else ''} ({', '.join(arches)})"
    methods = ", ".join(split_names(args.method)) or "every method"
    features = f", features {', '.join(split_names(args.feature))}" if args.feature else ""
    hint = "; pass --arch NAME to certify one" if not args.arch else ""
    implementation = f" of implementation {args.impl}" if args.impl != "reference" else ""
    return f"certifying {what}{implementation} with {methods}{features} into {Path(args.out)}/{hint}"


def certify_command(args: argparse.Namespace) -> int:
    from .implementations import ImplementationError, load
    from .selection import check_names

    try:
        check_names(args.arch, args.method, args.feature)  # before anything is created or run
        if args.impl != "reference":  # the default ships with this package: no torch import to check it
            load(args.impl)  # a missing package is named now, not after a pytest start
    except (ValueError, ImplementationError) as err:
        print(f"adapter-conformance certify: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    results_path = out / RESULTS_NAME
    # An old results file must never be read as the verdict of this run.
    results_path.unlink(missing_ok=True)
    print(describe_run(args), flush=True)
    with tempfile.TemporaryDirectory(prefix="adapter-conformance-") as scratch:
        # The suite writes into a scratch folder: the output folder is made only when there is something to put in it.
        fresh = Path(scratch) / RESULTS_NAME
        command = pytest_command(args, fresh)
        print("running:", " ".join(command), flush=True)
        status = subprocess.run(command, check=False).returncode
        if status in _NO_VERDICT or not fresh.exists():
            what = _NO_VERDICT.get(status, f"exit status {status}")
            print(
                f"adapter-conformance certify: error: the suite did not run ({what}); no certificate written",
                file=sys.stderr,
            )
            return 2
        out.mkdir(parents=True, exist_ok=True)
        shutil.move(fresh, results_path)
    results = load_results(results_path)
    arches = sorted(results.architectures)
    if not arches:
        print(
            "adapter-conformance certify: error: no conformance check ran (the results name no architecture); "
            "no certificate written: widen --arch, --method, --feature or the -k expression",
            file=sys.stderr,
        )
        return 2
    certified = True
    print()
    for arch in arches:
        certificate = build_certificate(results, arch)
        if attach_parity(certificate, out):
            print(
                f"{arch}: training parity from {out / arch}.parity.json added (a benchmark, not part of the verdict)"
            )
        write_text_atomic(out / f"{arch}.json", render_certificate_json(certificate))
        write_text_atomic(out / f"{arch}.md", render_certificate_markdown(certificate))
        totals = certificate["totals"]
        verdict = "certified" if certificate["certified"] else "NOT certified"
        failing = f", {len(certificate['failing_checks'])} not passing" if certificate["failing_checks"] else ""
        gaps = f", {totals['gap']} declared-gap skips" if totals["gap"] else ""
        print(f"{arch}: {verdict}: {totals['passed']}/{totals['ran']} checks passed{failing}{gaps} -> {out / arch}.md")
        certified = certified and certificate["certified"]
    return 0 if certified else 1


def _has_xdist() -> bool:
    return importlib.util.find_spec("xdist") is not None


if __name__ == "__main__":
    raise SystemExit(main())
