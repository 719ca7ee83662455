"""`adapter-conformance certify` (and `scaffold`, `coverage`, `compare` from ``architectures``): run the conformance suite for a selection and write a certificate per architecture.

The suite runs in a pytest subprocess (`pytest --pyargs conformance.suite --results ...`), so the command works
wherever the package is installed, on out-of-tree specs too (`--arch=mypkg.my_arch`). The exit status is 0 only
when every selected architecture is certified: at least one check ran and every check that is not a declared gap
passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from reports.atomic import write_text_atomic
from reports.certificate import build_certificate, render_certificate_json, render_certificate_markdown
from reports.results import load_results


DEFAULT_OUT = "certificates"
RESULTS_NAME = "results.json"
# pytest exit statuses that mean the run itself did not happen as asked (not: some checks failed).
_NO_VERDICT = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no checks collected"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adapter-conformance", description="Certify adapter support for transformers architectures."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    certify = commands.add_parser(
        "certify",
        help="run the conformance suite and write a certificate per architecture",
        description="Run the conformance suite for the selection and write <out>/<arch>.json and <out>/<arch>.md. "
        "Exit status 0 only when every check that is not a declared gap passed. Arguments after `--` go to pytest.",
    )
    certify.add_argument(
        "--arch",
        action="append",
        default=[],
        metavar="NAME",
        help="a registered architecture, a comma list, 'all' (the default), or a spec module such as mypkg.my_arch",
    )
    certify.add_argument(
        "--method", action="append", default=[], metavar="NAME", help="adapter methods (default: all)"
    )
    certify.add_argument("--feature", action="append", default=[], metavar="NAME", help="features (default: all)")
    certify.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"where certificates go (default: {DEFAULT_OUT})"
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
    from architectures.__main__ import add_commands

    add_commands(commands)  # scaffold, coverage, compare
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def pytest_command(args: argparse.Namespace, results: Path) -> list[str]:
    """The pytest run behind a certificate."""
    command = [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p", "no:cacheprovider"]
    command += [f"--arch={a}" for a in args.arch or ["all"]]
    command += [f"--method={m}" for m in args.method]
    command += [f"--feature={f}" for f in args.feature]
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


def certify_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    results_path = out / RESULTS_NAME
    # An old results file must never be read as the verdict of this run.
    results_path.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    command = pytest_command(args, results_path)
    print("running:", " ".join(command), flush=True)
    status = subprocess.run(command, check=False).returncode
    if status in _NO_VERDICT or not results_path.exists():
        what = _NO_VERDICT.get(status, f"exit status {status}")
        print(
            f"adapter-conformance certify: error: the suite did not run ({what}); no certificate written",
            file=sys.stderr,
        )
        return 2
    results = load_results(results_path)
    arches = sorted(results.architectures)
    if not arches:
        print("adapter-conformance certify: error: no conformance check ran; no certificate written", file=sys.stderr)
        return 2
    certified = True
    print()
    for arch in arches:
        certificate = build_certificate(results, arch)
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
