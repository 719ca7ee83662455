"""Fingerprints of upstream functions that this package copies (with fenced edits), so that a change upstream fails
loudly instead of silently running an outdated copy.

A fingerprint is taken over the function's statements as Python sees them: comments, docstrings, type annotations and
formatting do not count, every other change does. Each statement keeps a short hash, so a difference can be located.
Print the record of the installed version with ``python -m reference_impl.methods.prefix.upstream``.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any


@dataclass(frozen=True)
class Statement:
    line: int  # in the upstream file
    text: str  # nesting depth and the statement (a compound statement's header only), normalised

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class UpstreamSource:
    """What a copy was made from: the function, the transformers versions it was read off, and its fingerprint."""

    function: str  # module.Class.method
    versions: tuple[str, ...]
    sha256: str
    statements: tuple[str, ...]  # Statement.digest of each statement, in order


class UpstreamChanged(RuntimeError):
    """The installed upstream function is not the one a copy was made from."""


class _Plain(ast.NodeTransformer):
    """Drops what does not change behaviour: annotations and docstrings."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        node.body = _without_docstring(node.body)
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno), node)


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_doc = (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    )
    return body[1:] if is_doc else body


_BLOCKS = ("body", "orelse", "finalbody")


def statements(function: Callable[..., Any]) -> list[Statement]:
    """The function's signature and statements, normalised, with their line numbers in its file."""
    lines, first_line = inspect.getsourcelines(function)
    tree = _Plain().visit(ast.parse(textwrap.dedent("".join(lines))))
    definition = tree.body[0]
    found = [Statement(first_line, f"def({ast.unparse(definition.args)})")]

    def walk(body: list[ast.stmt], depth: int) -> None:
        for node in body:
            text = ast.unparse(node)
            compound = any(getattr(node, block, None) for block in _BLOCKS) or hasattr(node, "handlers")
            found.append(
                Statement(first_line + node.lineno - 1, f"{depth}:{text.splitlines()[0] if compound else text}")
            )
            if not compound:
                continue
            walk(node.body, depth + 1)
            for handler in getattr(node, "handlers", []):
                found.append(
                    Statement(first_line + handler.lineno - 1, f"{depth}:{ast.unparse(handler).splitlines()[0]}")
                )
                walk(handler.body, depth + 1)
            for block in ("orelse", "finalbody"):
                if getattr(node, block, None):
                    found.append(Statement(first_line + getattr(node, block)[0].lineno - 1, f"{depth}:{block}"))
                    walk(getattr(node, block), depth + 1)

    walk(definition.body, 1)
    return found


def fingerprint(found: Sequence[Statement]) -> str:
    return hashlib.sha256("\n".join(s.text for s in found).encode()).hexdigest()


def first_difference(recorded: Sequence[str], found: Sequence[Statement]) -> Statement:
    """The first installed statement that differs from the recorded ones (or the last, when statements went)."""
    matcher = SequenceMatcher(a=list(recorded), b=[s.digest for s in found], autojunk=False)
    for tag, _, _, j1, _ in matcher.get_opcodes():
        if tag != "equal":
            return found[min(j1, len(found) - 1)]
    return found[-1]


def check_copy(function: Callable[..., Any], sources: Sequence[UpstreamSource], copy: str) -> None:
    """Raise UpstreamChanged, naming the first differing line, unless ``function`` matches one recorded source."""
    found = statements(function)
    if any(fingerprint(found) == source.sha256 for source in sources):
        return
    nearest = min(sources, key=lambda s: -SequenceMatcher(a=s.statements, b=[x.digest for x in found]).ratio())
    where = first_difference(nearest.statements, found)
    path = _short_path(inspect.getsourcefile(function) or "?", function.__module__)
    versions = ", ".join(v for source in sources for v in source.versions)
    raise UpstreamChanged(
        f"{function.__qualname__} changed upstream, first at {path}:{where.line}: {where.text.split(':', 1)[1]}; "
        f"{copy} is a copy of it as in transformers {versions}. Port the change into the copy, then record the new "
        "source (python -m reference_impl.methods.prefix.upstream) in architectures/versions.py"
    )


def _short_path(path: str, module: str) -> str:
    """``transformers/models/deberta/modeling_deberta.py`` rather than the whole site-packages path."""
    top = module.split(".")[0]
    marker = f"/{top}/"
    return path[path.rindex(marker) + 1 :] if marker in path else path


def record(function: Callable[..., Any], versions: tuple[str, ...]) -> UpstreamSource:
    found = statements(function)
    name = f"{function.__module__}.{function.__qualname__}"
    return UpstreamSource(name, versions, fingerprint(found), tuple(s.digest for s in found))


if __name__ == "__main__":
    from transformers.models.deberta.modeling_deberta import DisentangledSelfAttention

    from architectures.versions import installed

    print(record(DisentangledSelfAttention.forward, (installed("transformers"),)))
