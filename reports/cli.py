"""Command line: `python -m reports render` (more subcommands, such as `matrix` and `html`, can join later)."""

from __future__ import annotations

import argparse
import difflib
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from reports.atomic import write_text_atomic
from reports.cells import build_table
from reports.json_table import render_json
from reports.markdown import render_markdown
from reports.results import find_result_files, load_results


DEFAULT_RESULTS = "results"
DEFAULT_MARKDOWN = "docs/model_overview.md"
DEFAULT_JSON = "docs/model_overview.json"
HOW_TO_PRODUCE = "pytest --results results/latest.json"
MAX_DIFF_LINES = 40


class CliError(Exception):
    """An error for the user: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports", description="Support matrix from conformance results.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    render = commands.add_parser("render", help="write the model table (markdown and JSON) from result files")
    render.add_argument(
        "results",
        nargs="*",
        metavar="RESULTS",
        help=f"result files or directories (every *.json below them); default: {DEFAULT_RESULTS}/",
    )
    render.add_argument("--out", default=DEFAULT_MARKDOWN, help=f"markdown table (default: {DEFAULT_MARKDOWN})")
    render.add_argument("--json", default=DEFAULT_JSON, help=f"JSON table (default: {DEFAULT_JSON})")
    render.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files on disk differ from a fresh render"
    )
    render.set_defaults(handler=_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CliError as e:
        print(f"python -m reports {args.command}: error: {e}", file=sys.stderr)
        return 2


def _render(args: argparse.Namespace) -> int:
    paths = args.results or [DEFAULT_RESULTS]
    if Path(args.out) == Path(args.json):
        raise CliError("--out and --json name the same file")
    try:
        files = find_result_files(paths) if args.results or Path(DEFAULT_RESULTS).is_dir() else []
        if not files:
            raise CliError(f"no result files in {', '.join(map(str, paths))}; produce them with: {HOW_TO_PRODUCE}")
        table = build_table([load_results(f) for f in files])
    except (OSError, ValueError) as e:
        raise CliError(str(e)) from None
    if table.unknown_features:
        names = ", ".join(table.unknown_features)
        print(f"warning: checks of features without a table column were left out: {names}", file=sys.stderr)
    rendered = {args.out: render_markdown(table), args.json: render_json(table)}
    if args.check:
        return _check(rendered, _command(args))
    for path, text in rendered.items():
        try:
            write_text_atomic(path, text)
        except OSError as e:
            raise CliError(f"cannot write {path}: {e}") from None
        print(f"wrote {path}")
    return 0


def _check(rendered: dict[str, str], command: str) -> int:
    stale = False
    for path, text in rendered.items():
        try:
            current = Path(path).read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            print(f"{path} is missing", file=sys.stderr)
            stale = True
            continue
        if current == text:
            continue
        stale = True
        diff = list(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{path} (on disk)",
                tofile=f"{path} (from results)",
            )
        )
        if len(diff) > MAX_DIFF_LINES:
            diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)\n"]
        print(f"{path} is out of date:", file=sys.stderr)
        sys.stderr.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
    if stale:
        print(f"regenerate with: {command}", file=sys.stderr)
        return 1
    print("model table is up to date")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The render command that regenerates the checked files."""
    words = ["python", "-m", "reports", "render", *args.results]
    if args.out != DEFAULT_MARKDOWN:
        words += ["--out", args.out]
    if args.json != DEFAULT_JSON:
        words += ["--json", args.json]
    return shlex.join(words)
