"""A random-mutation score of ``reference_impl``: apply N random operator mutations, one at a time, to a temporary copy
and count how many the suite catches. Not run in CI (each surviving mutant costs a whole selection).

    python -m tests.mutants.random_mutation -n 12 --seed 1 -- --arch=bert,gpt2,deberta

Operators: flip a comparison (``<`` / ``>=``, ``==`` / ``!=``, ``is`` / ``is not``, ``in`` / ``not in``), swap an
arithmetic operator (``+`` / ``-``, ``*`` / ``/``), change a numeric constant (``n`` to ``n + 1``, ``0`` to ``1``),
flip a boolean constant, drop a call statement. Code that only builds error messages (inside ``raise``) and
docstrings are left alone: a mutant there changes no behaviour a check could see.
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.mutants.runner import ROOT, children_cpu, copy_repository, run_pytest


FLIPPED_COMPARISONS = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
SWAPPED_OPERATORS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


@dataclass(frozen=True)
class RandomMutant:
    file: str
    line: int
    start: int  # column span of the replaced text on ``line``
    end: int
    old: str
    new: str
    operator: str

    def describe(self) -> str:
        return f"{self.file}:{self.line} {self.operator}: {self.old!r} -> {self.new!r}"


def candidates(path: Path) -> list[RandomMutant]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Raise | ast.JoinedStr) for n in ast.walk(node)}
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    relative = str(path.relative_to(ROOT))
    found = []
    for node in ast.walk(tree):
        if (
            id(node) in skipped
            or id(node) in docstrings
            or getattr(node, "lineno", None) != getattr(node, "end_lineno", -1)
        ):
            continue
        mutated, operator = _mutate(node)
        if mutated is None:
            continue
        old = lines[node.lineno - 1][node.col_offset : node.end_col_offset]
        new = "pass" if operator == "drop call" else ast.unparse(mutated)
        if new != old:
            found.append(RandomMutant(relative, node.lineno, node.col_offset, node.end_col_offset, old, new, operator))
    return found


def _mutate(node: ast.AST) -> tuple[ast.AST | None, str]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in FLIPPED_COMPARISONS:
        return ast.Compare(node.left, [FLIPPED_COMPARISONS[type(node.ops[0])]()], node.comparators), "flip comparison"
    textual = (ast.JoinedStr, ast.Constant)
    if (
        isinstance(node, ast.BinOp)
        and type(node.op) in SWAPPED_OPERATORS
        and not any(isinstance(side, textual) and not _numeric(side) for side in (node.left, node.right))
    ):
        return ast.BinOp(node.left, SWAPPED_OPERATORS[type(node.op)](), node.right), "swap operator"
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return ast.Constant(not node.value), "flip boolean"
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return ast.Constant(1 if node.value == 0 else node.value + 1), "change constant"
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return node, "drop call"
    return None, ""


def _numeric(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


def apply(mutant: RandomMutant, root: Path) -> None:
    path = root / mutant.file
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    line = lines[mutant.line - 1]
    assert line[mutant.start : mutant.end] == mutant.old, mutant.describe()
    lines[mutant.line - 1] = line[: mutant.start] + mutant.new + line[mutant.end :]
    path.write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants.random_mutation", description=__doc__)
    parser.add_argument("-n", type=int, default=12, help="how many random mutants (default 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("pytest_args", nargs="*", help="the selection, after --; default: --arch=bert")
    args = parser.parse_args(argv)
    selection = args.pytest_args or ["--arch=bert"]
    pool = [m for path in sorted((ROOT / "reference_impl").rglob("*.py")) for m in candidates(path)]
    chosen = random.Random(args.seed).sample(pool, args.n)
    command = [sys.executable, "-m", "pytest", "conformance/suite", "-n", "0", "-x", "-q", "-p", "no:randomly"]
    killed = timed_out = 0
    for mutant in chosen:
        cpu = children_cpu()
        with tempfile.TemporaryDirectory(prefix="random-mutant-") as tmp:
            copy_repository(Path(tmp))
            apply(mutant, Path(tmp))
            done = run_pytest(Path(tmp), [*command, *selection])
        if done is None:  # a selection that did not finish decided nothing: not a kill
            timed_out += 1
            print(f"timeout  {children_cpu() - cpu:6.1f} s CPU  {mutant.describe()}", flush=True)
            continue
        caught = done.returncode != 0
        killed += caught
        verdict = "killed" if caught else "survived"
        failing = next((line for line in (done.stdout if done else "").splitlines() if line.startswith("FAILED")), "")
        print(f"{verdict:8} {children_cpu() - cpu:6.1f} s CPU  {mutant.describe()}  {failing[:160]}", flush=True)
    print(
        f"random-mutation score: {killed} of {len(chosen) - timed_out} killed, {timed_out} timed out "
        f"({len(pool)} candidates, seed {args.seed}, selection {' '.join(selection)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
