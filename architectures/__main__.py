"""``python -m architectures coverage | scaffold MODEL_TYPE | compare [NAME ...]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The architecture commands, shared with ``adapter-conformance``."""
    scaffold = commands.add_parser(
        "scaffold",
        help="write a draft spec module for a transformers model type",
        description="Build a tiny model of MODEL_TYPE from transformers' config class and write a draft spec module: "
        "every field commented with how it was found, every undecided field TODO with its candidates.",
    )
    scaffold.add_argument("model_type", metavar="MODEL_TYPE", help="a transformers model_type, e.g. qwen3")
    scaffold.add_argument("--out", default=None, metavar="FILE", help="write the module here (default: stdout)")
    scaffold.set_defaults(handler=scaffold_command)
    coverage = commands.add_parser(
        "coverage",
        help="list every model type with attention layers: registered, scaffoldable, or not (why)",
        description="Every model type the installed transformers knows that has attention layers, and for each: "
        "registered, scaffoldable (the scaffolder found every layout field), or not, and why.",
    )
    coverage.add_argument("model_types", nargs="*", metavar="MODEL_TYPE", help="only these (default: all)")
    coverage.set_defaults(handler=coverage_command)
    compare = commands.add_parser(
        "compare", help="scaffold registered architectures and compare field by field with their specs"
    )
    compare.add_argument("names", nargs="*", metavar="NAME", help="registered architectures (default: all)")
    compare.set_defaults(handler=compare_command)


def scaffold_command(args: argparse.Namespace) -> int:
    from .scaffold import draft, render

    try:
        text = render(draft(args.model_type))
    except ValueError as err:
        print(f"scaffold: error: {err}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text)
        print(f"draft spec for {args.model_type} written to {args.out}; review every TODO, then register it")
    else:
        print(text)
    return 0


def coverage_command(args: argparse.Namespace) -> int:
    from .coverage import coverage, render

    for line in render(coverage(args.model_types or None)):
        print(line)
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from .registry import builtin_names, get
    from .scaffold import compare

    matched = compared = 0
    for name in args.names or builtin_names():
        spec = get(name)
        if not spec.applicable:
            continue
        try:
            ok, total, mismatches = compare(spec)
        except Exception as err:  # noqa: BLE001 - a draft that fails is a line of the report, with its reason
            ok, total, mismatches = 0, 1, [f"no draft: {type(err).__name__}: {err}".splitlines()[0]]
        matched, compared = matched + ok, compared + total
        print(f"{name}: {ok}/{total} fields match" + "".join(f"\n  {m}" for m in mismatches))
    print(f"total: {matched}/{compared} fields match")
    return 0 if matched == compared else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m architectures", description="Architecture specs: tools.")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
