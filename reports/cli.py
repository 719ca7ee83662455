"""Command line: `python -m reports render` (the model table) and `python -m reports matrix` (the nightly view)."""

from __future__ import annotations

import argparse
import difflib
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from reports import baseline
from reports.atomic import write_text_atomic
from reports.cells import build_table
from reports.changes import compare, render_changes
from reports.claims import PUBLISHED, claims_path, render_claims
from reports.html import render_html
from reports.json_table import render_json
from reports.markdown import render_markdown
from reports.matrix import build_matrix, load_matrix, render_matrix_json, render_matrix_markdown
from reports.merge import REFERENCE, implementation
from reports.pages import page_link, render_pages
from reports.results import Results, find_result_files, load_results


DEFAULT_RESULTS = "results"
DEFAULT_MARKDOWN = "docs/model_overview.md"
DEFAULT_JSON = "docs/model_overview.json"
DEFAULT_MATRIX_DIR = "results/matrix"
HOW_TO_PRODUCE = "pytest --results results/latest.json"
ADAPTERHUB = "adapters"  # the implementation whose published table docs/adapters/claims.md checks
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
    # The defaults depend on the implementation the results certify (docs/<impl>/... for all but the reference):
    # one implementation's results never land in another's table or committed results.
    render.add_argument("--out", help=f"markdown table (default: {DEFAULT_MARKDOWN}; docs/IMPL/model_overview.md)")
    render.add_argument("--json", help=f"JSON table (default: {DEFAULT_JSON}; docs/IMPL/model_overview.json)")
    render.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files on disk differ from a fresh render"
    )
    render.add_argument(
        "--baseline",
        metavar="DIR",
        help="committed per-version results: the given results replace those of their transformers version, the "
        f"table covers all (default: {baseline.DEFAULT_BASELINE}; docs/IMPL/per_version for another implementation)",
    )
    render.add_argument(
        "--no-baseline", action="store_true", help="render from the given results alone; read and write no baseline"
    )
    render.add_argument(
        "--replace",
        action="store_true",
        help="the given results replace the committed results of their transformers version whole (after a full "
        "run: drops what no longer exists). Default: merge, replacing only the (architecture, feature, method) "
        "groups they ran",
    )
    render.add_argument(
        "--pages",
        metavar="DIR",
        help="per-architecture pages, linked from the table (default: architectures/ beside the --out table)",
    )
    render.add_argument(
        "--parity",
        metavar="DIR",
        help="training-parity reports (adapter-conformance train-parity --out DIR) the pages show "
        "(default: parity/ beside the --out table)",
    )
    render.add_argument("--no-pages", action="store_true", help="the table only: no pages, no links to them")
    render.set_defaults(handler=_render)

    matrix = commands.add_parser(
        "matrix", help="merge the result files of several transformers versions; list what changed since last time"
    )
    matrix.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS",
        help="result files or directories (one per tox env); a missing one is reported and skipped",
    )
    matrix.add_argument(
        "--out",
        default=DEFAULT_MATRIX_DIR,
        metavar="DIR",
        help=f"where matrix.md, matrix.json, index.html (and changes.md) go (default: {DEFAULT_MATRIX_DIR})",
    )
    matrix.add_argument(
        "--previous",
        metavar="MATRIX_JSON",
        help="the previous matrix.json: list regressions, fixes, new and removed architectures; exit 1 on a "
        "regression. When the file does not exist (a first run), this is said and nothing is compared",
    )
    matrix.set_defaults(handler=_matrix)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CliError as e:
        print(f"python -m reports {args.command}: error: {e}", file=sys.stderr)
        return 2


def _render(args: argparse.Namespace) -> int:
    try:
        loaded = _load(_fresh_files(args))
        _resolve_defaults(args, implementation(loaded) if loaded else REFERENCE)
        if Path(args.out) == Path(args.json):
            raise CliError("--out and --json name the same file")
        fresh = baseline.committable(args.baseline, loaded)
        committed = [] if args.no_baseline else baseline.load_baseline(args.baseline)
        kept: list[baseline.Kept] = []
        if not args.replace:
            fresh, kept = baseline.merge_into(committed, fresh)
        if not fresh and not committed:
            where = ", ".join(args.results or [DEFAULT_RESULTS])
            raise CliError(f"no result files in {where}; produce them with: {HOW_TO_PRODUCE}")
        table = build_table(baseline.overlay(committed, fresh))
        updates = [] if args.no_baseline else baseline.updates(committed, fresh)
    except (OSError, ValueError) as e:
        raise CliError(str(e)) from None
    if table.unknown_features:
        names = ", ".join(table.unknown_features)
        print(f"warning: checks of features without a table column were left out: {names}", file=sys.stderr)
    for note in kept:
        print(baseline.describe_kept(note), file=sys.stderr)
    pages_dir = None if args.no_pages else Path(args.pages or Path(args.out).parent / "architectures")
    links = {row.arch: page_link(args.out, pages_dir, row.arch) for row in table.rows} if pages_dir else None
    rendered = {args.out: render_markdown(table, links), args.json: render_json(table)}
    if table.impl == ADAPTERHUB and Path(PUBLISHED).is_file():
        rendered[str(claims_path(args.out))] = _claims(table)
    elif table.impl == ADAPTERHUB:
        print(f"warning: no {PUBLISHED} here (run from the repository root): claims.md not written", file=sys.stderr)
    if pages_dir is not None:
        parity_dir = Path(args.parity or Path(args.out).parent / "parity")
        pages = render_pages(table, args.out, pages_dir, parity_dir)
        rendered.update({str(path): text for path, text in pages.items()})
    if args.check:
        return _check(rendered, updates, _command(args))
    try:
        for update in updates:
            baseline.write_update(update)
            print(f"wrote {update.path}")
        for path, text in rendered.items():
            write_text_atomic(path, text)
            print(f"wrote {path}")
    except OSError as e:
        raise CliError(f"cannot write: {e}") from None
    return 0


def _claims(table) -> str:
    """AdapterHub's published table against the measured one (`docs/adapters/claims.md`)."""
    try:
        published = Path(PUBLISHED).read_text(encoding="utf-8")
        return render_claims(table, published)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot compare with AdapterHub's published table {PUBLISHED}: {e}") from None


def default_paths(impl: str) -> dict[str, str]:
    """Where ``render`` writes the table and keeps the committed results of implementation ``impl``."""
    if impl == REFERENCE:
        return {"out": DEFAULT_MARKDOWN, "json": DEFAULT_JSON, "baseline": baseline.DEFAULT_BASELINE}
    return {
        "out": f"docs/{impl}/model_overview.md",
        "json": f"docs/{impl}/model_overview.json",
        "baseline": baseline.default_baseline(impl),
    }


def _resolve_defaults(args: argparse.Namespace, impl: str) -> None:
    args.defaults = default_paths(impl)
    for option, path in args.defaults.items():
        if getattr(args, option) is None:
            setattr(args, option, path)


def _fresh_files(args: argparse.Namespace) -> list[Path]:
    if args.results:
        return find_result_files(args.results)
    return find_result_files([DEFAULT_RESULTS]) if Path(DEFAULT_RESULTS).is_dir() else []


def _load(files: Sequence[Path]) -> list[Results]:
    return [load_results(f) for f in files]


def _matrix(args: argparse.Namespace) -> int:
    for path in args.results:
        if not Path(path).exists():
            print(f"warning: {path} does not exist (did that run fail?); left out", file=sys.stderr)
    try:
        files = find_result_files(args.results, missing_ok=True)
        if not files:
            raise CliError(f"no result files in {', '.join(args.results)}; produce them with: tox")
        previous = None
        if args.previous and Path(args.previous).exists():
            previous = load_matrix(args.previous)  # read before the new matrix may overwrite it
        matrix = build_matrix(_load(files))
        changes = compare(previous, matrix) if previous is not None else None
    except (OSError, ValueError) as e:
        raise CliError(str(e)) from None
    out = Path(args.out)
    outputs = {
        out / "matrix.json": render_matrix_json(matrix),
        out / "matrix.md": render_matrix_markdown(matrix),
        out / "index.html": render_html(matrix),
    }
    if changes is not None:
        outputs[out / "changes.md"] = render_changes(changes)
        outputs[out / "changes.json"] = json.dumps(changes.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        stale = [out / "changes.md", out / "changes.json"]
        for path in stale:
            path.unlink(missing_ok=True)  # a changes file from an older run would say something false
    try:
        for path, text in outputs.items():
            write_text_atomic(path, text)
            print(f"wrote {path}")
    except OSError as e:
        raise CliError(f"cannot write: {e}") from None
    versions = ", ".join(matrix["transformers_versions"])
    print(f"matrix of {len(matrix['architectures'])} architectures on transformers {versions}")
    if matrix["unknown_features"]:
        names = ", ".join(matrix["unknown_features"])
        print(f"warning: checks of features without a column were left out: {names}", file=sys.stderr)
    if args.previous and previous is None:
        print(f"no previous matrix at {args.previous}: nothing compared (a first run?)")
    if changes is None:
        return 0
    print(render_changes(changes), end="")
    if changes.regressions:
        print(f"{len(changes.regressions)} regression(s): see {out / 'changes.md'}", file=sys.stderr)
        return 1
    return 0


def _check(rendered: dict[str, str], updates: Sequence[baseline.Update], command: str) -> int:
    stale = False
    for update in updates:
        stale = True
        for line in baseline.describe(update):
            print(line, file=sys.stderr)
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
    if args.out != args.defaults["out"]:
        words += ["--out", args.out]
    if args.json != args.defaults["json"]:
        words += ["--json", args.json]
    if args.replace:
        words.append("--replace")
    if args.no_pages:
        words.append("--no-pages")
    for option in ("pages", "parity"):
        if getattr(args, option):
            words += [f"--{option}", getattr(args, option)]
    if args.no_baseline:
        words.append("--no-baseline")
    elif args.baseline != args.defaults["baseline"]:
        words += ["--baseline", args.baseline]
    return shlex.join(words)
