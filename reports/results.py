"""Result files (schema version 1): the JSON a conformance run writes; loading, validation, writing, discovery."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reports.atomic import write_text_atomic
from reports.compact import COUNTED_OUTCOMES, encode, expand


SCHEMA_VERSION = 1
OUTCOMES: tuple[str, ...] = ("passed", "failed", "error", "skipped", "gap", "n/a")
# Outcomes that are neither a pass nor a failure: a declared gap, and a check the expectations say does not apply.
UNCOUNTED: frozenset[str] = frozenset({"gap", "n/a"})
ENVIRONMENT_KEYS: tuple[str, ...] = (
    "python",
    "torch",
    "transformers",
    "adapter_conformance",
    "impl",
    "commit",
    "date",
)
_NULLABLE_ENVIRONMENT_KEYS = frozenset({"commit"})
SELECTION_KEYS: tuple[str, ...] = ("arches", "methods")


@dataclass(frozen=True)
class Check:
    """One executed conformance check (one pytest item) and its outcome."""

    arch: str
    feature: str
    method: str | None
    check: str
    nodeid: str
    outcome: str  # one of OUTCOMES
    reason: str = ""
    duration: float = 0.0


@dataclass(frozen=True)
class Architecture:
    """What a run knew about one architecture: its modality and its declared gaps {feature: reason}.

    ``provenance`` says where the spec came from (module, sha256 of its source, the module layout that matched the
    installed transformers); certificates show it. It does not take part in comparisons, and committed results
    leave it out: it changes with every edit of a spec file.
    """

    modality: str
    gaps: Mapping[str, str]
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)


# Names result files were stamped with before --impl existed: the same implementation.
LEGACY_IMPL_NAMES = {"reference_impl": "reference"}


@dataclass(frozen=True)
class Results:
    """The content of one result file."""

    path: str
    environment: Mapping[str, str | None]
    selection: Mapping[str, Sequence[str]]
    architectures: Mapping[str, Architecture]
    checks: tuple[Check, ...]

    @property
    def transformers(self) -> str:
        return self.environment["transformers"]  # type: ignore[return-value]  # validated non-empty str

    @property
    def impl(self) -> str:
        impl = self.environment["impl"]
        return LEGACY_IMPL_NAMES.get(impl, impl)  # type: ignore[arg-type,return-value]


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def load_results(path: str | os.PathLike[str]) -> Results:
    """Read and validate a result file; a malformed one raises ValueError naming the file and the field."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed results file {path}: not valid JSON: {e}") from None
    try:
        return _parse(data, path)
    except _FieldError as e:
        raise ValueError(f"malformed results file {path}: field {e.field!r}: {e.message}") from None


def write_results(
    path: str | os.PathLike[str],
    environment: Mapping[str, str | None],
    selection: Mapping[str, Iterable[str]],
    architectures: Mapping[str, Architecture | Mapping[str, Any]],
    checks: Iterable[Check | Mapping[str, Any]],
    *,
    one_check_per_line: bool = False,
    compact: bool = False,
) -> None:
    """Validate and write a result file atomically. Checks and architectures may be dataclasses or dicts.

    `one_check_per_line` keeps committed files short and their diffs readable: one line per check. `compact` (for
    committed files) keeps passed, gap and n/a checks as counts per cell (reports.compact), the others in full.
    """
    records = [asdict(c) if isinstance(c, Check) else dict(c) for c in checks]
    counted_rows: dict[str, Any] = {}
    if compact:
        rows, reasons, kept = encode([Check(**{k: r[k] for k in Check.__dataclass_fields__}) for r in records])
        records, counted_rows = [asdict(c) for c in kept], {"counted_reasons": reasons, "counted": rows}
    data = {
        "schema": SCHEMA_VERSION,
        "environment": dict(environment),
        "selection": {key: list(values) for key, values in selection.items()},
        "architectures": {name: _architecture_dict(arch) for name, arch in architectures.items()},
        **counted_rows,
        "checks": records,
    }
    path = os.fspath(path)
    try:
        _parse(data, path)
    except _FieldError as e:
        raise ValueError(f"refusing to write malformed results file {path}: field {e.field!r}: {e.message}") from None
    text = _dumps_one_check_per_line(data) if one_check_per_line else json.dumps(data, indent=2, ensure_ascii=False)
    write_text_atomic(path, text + "\n")


def _dumps_one_check_per_line(data: dict[str, Any]) -> str:
    lists = ("counted", "checks")  # one line per row
    head = {key: value for key, value in data.items() if key not in lists}
    text = json.dumps(head, indent=2, ensure_ascii=False)
    for key in (k for k in lists if k in data):
        lines = ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in data[key])
        body = f'"{key}": [\n{lines}\n  ]' if lines else f'"{key}": []'
        text = text[: text.rindex("}")].rstrip() + f",\n  {body}\n}}"
    return text


_VOLATILE = (
    (re.compile(r"(?:/private)?/[\w./-]*?/pytest-of-[^/\s]+/pytest-\d+/"), "<tmp>/"),  # pytest's tmp_path
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x…"),  # object addresses in reprs
)


def stable_reason(reason: str) -> str:
    """A failure reason without what changes from run to run (tmp paths, addresses), for committed files and docs."""
    for pattern, replacement in _VOLATILE:
        reason = pattern.sub(replacement, reason)
    return reason


def short_id(nodeid: str) -> str:
    """`TestLoRA::test_merge[bert-lora]`: the check id without its file, which every check of the suite shares."""
    return nodeid.split("::", 1)[-1]


def find_result_files(paths: Sequence[str | os.PathLike[str]], missing_ok: bool = False) -> list[Path]:
    """Expand files and directories (every `*.json` below them) into a sorted, de-duplicated list of files.

    Below a directory, the outputs of this package (matrix, tables, certificates: JSON with `generated_by`) are
    not result files and are left out, so `results/matrix/` can live next to the results it was made from.
    `missing_ok` skips paths that do not exist instead of raising.
    """
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found.update(f for f in p.rglob("*.json") if f.is_file() and not is_generated_output(f))
        elif missing_ok and not p.exists():
            continue
        elif p.is_file():
            found.add(p)
        else:
            raise FileNotFoundError(f"no such result file or directory: {p}")
    return sorted(found)


def is_generated_output(path: Path) -> bool:
    """True for a JSON file written by `python -m reports ...` or the certificate command (not a result file)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False  # unreadable or malformed: let load_results name the problem
    return isinstance(data, dict) and "generated_by" in data and "checks" not in data


def _architecture_dict(arch: Architecture | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(arch, Architecture):
        found = {"modality": arch.modality, "gaps": dict(arch.gaps)}
        return found | ({"provenance": dict(arch.provenance)} if arch.provenance else {})
    return {key: dict(value) if key == "gaps" and isinstance(value, Mapping) else value for key, value in arch.items()}


def _parse(data: Any, path: str) -> Results:
    top = _mapping(data, "<top level>")
    schema = _require(top, "schema", "")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise _FieldError("schema", f"unsupported schema {schema!r}; this version of reports reads {SCHEMA_VERSION}")
    environment = _parse_environment(_require(top, "environment", ""))
    selection = _parse_selection(_require(top, "selection", ""))
    architectures = _parse_architectures(_require(top, "architectures", ""))
    raw_checks = _require(top, "checks", "")
    if not isinstance(raw_checks, list):
        raise _FieldError("checks", f"expected a list, got {_kind(raw_checks)}")
    checks = tuple(_parse_check(c, f"checks[{i}]", architectures) for i, c in enumerate(raw_checks))
    if "counted" in top:
        checks = tuple(sorted(_parse_counted(top, architectures) + list(checks), key=_order))
    return Results(path, environment, selection, architectures, checks)


def _order(c: Check) -> tuple[str, str, str]:
    return c.nodeid, c.outcome, c.reason


def _parse_counted(top: Mapping[str, Any], architectures: Mapping[str, Architecture]) -> list[Check]:
    """The counted checks of a compact file (reports.compact) as stand-in checks."""
    reasons = _require(top, "counted_reasons", "")
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise _FieldError("counted_reasons", "expected a list of strings")
    rows = top["counted"]
    if not isinstance(rows, list):
        raise _FieldError("counted", f"expected a list, got {_kind(rows)}")
    for i, row in enumerate(rows):
        where = f"counted[{i}]"
        if not isinstance(row, list) or len(row) != 7:
            raise _FieldError(where, "expected [arch, feature, method, parameter, outcome, reason index, count]")
        arch, feature, method, parameter, outcome, reason, count = row
        for name, value in (("arch", arch), ("feature", feature), ("outcome", outcome)):
            _nonempty_str(value, f"{where}.{name}")
        if not isinstance(method, str) or not isinstance(parameter, str):
            raise _FieldError(where, "method and parameter must be strings ('' for none)")
        if outcome not in COUNTED_OUTCOMES:
            raise _FieldError(f"{where}.outcome", f"only {', '.join(sorted(COUNTED_OUTCOMES))} are counted")
        if type(reason) is not int or not 0 <= reason < len(reasons):
            raise _FieldError(f"{where}.reason", f"expected an index into counted_reasons, got {reason!r}")
        if outcome in UNCOUNTED and not reasons[reason].strip():
            raise _FieldError(f"{where}.reason", f"a {outcome!r} outcome needs its reason")
        if type(count) is not int or count < 1:
            raise _FieldError(f"{where}.count", f"expected a positive integer, got {count!r}")
        if arch not in architectures:
            raise _FieldError(f"{where}.arch", f"{arch!r} is not listed under 'architectures'")
    return expand(rows, reasons, Check)


def _parse_environment(value: Any) -> dict[str, str | None]:
    env = _mapping(value, "environment")
    for key in ENVIRONMENT_KEYS:
        field = f"environment.{key}"
        item = _require(env, key, "environment.")
        if item is None and key in _NULLABLE_ENVIRONMENT_KEYS:
            continue
        _nonempty_str(item, field)
    return dict(env)


def _parse_selection(value: Any) -> dict[str, list[str]]:
    selection = _mapping(value, "selection")
    for key in SELECTION_KEYS:
        _require(selection, key, "selection.")
    for key, items in selection.items():
        if not isinstance(items, list):
            raise _FieldError(f"selection.{key}", f"expected a list of strings, got {_kind(items)}")
        for i, item in enumerate(items):
            _nonempty_str(item, f"selection.{key}[{i}]")
    return {key: list(items) for key, items in selection.items()}


def _parse_architectures(value: Any) -> dict[str, Architecture]:
    archs = _mapping(value, "architectures")
    parsed = {}
    for name, raw in archs.items():
        where = f"architectures.{name}"
        if not name:
            raise _FieldError(where, "empty architecture name")
        arch = _mapping(raw, where)
        modality = _nonempty_str(_require(arch, "modality", f"{where}."), f"{where}.modality")
        gaps = _mapping(_require(arch, "gaps", f"{where}."), f"{where}.gaps")
        for feature, reason in gaps.items():
            _nonempty_str(reason, f"{where}.gaps.{feature}")
        provenance = _mapping(arch.get("provenance", {}), f"{where}.provenance")
        parsed[name] = Architecture(modality, dict(gaps), dict(provenance))
    return parsed


def _parse_check(value: Any, where: str, architectures: Mapping[str, Architecture]) -> Check:
    raw = _mapping(value, where)
    for key in ("arch", "feature", "check", "nodeid", "outcome"):
        _nonempty_str(_require(raw, key, f"{where}."), f"{where}.{key}")
    method = _require(raw, "method", f"{where}.")
    if method is not None:
        _nonempty_str(method, f"{where}.method")
    reason = _require(raw, "reason", f"{where}.")
    if not isinstance(reason, str):
        raise _FieldError(f"{where}.reason", f"expected a string, got {_kind(reason)}")
    duration = _require(raw, "duration", f"{where}.")
    if type(duration) not in (int, float) or duration < 0:
        raise _FieldError(f"{where}.duration", f"expected a non-negative number of seconds, got {duration!r}")
    if raw["outcome"] not in OUTCOMES:
        raise _FieldError(f"{where}.outcome", f"expected one of {', '.join(OUTCOMES)}; got {raw['outcome']!r}")
    if raw["outcome"] in UNCOUNTED and not reason.strip():
        raise _FieldError(f"{where}.reason", f"a {raw['outcome']!r} outcome needs its reason")
    if raw["arch"] not in architectures:
        raise _FieldError(f"{where}.arch", f"{raw['arch']!r} is not listed under 'architectures'")
    return Check(raw["arch"], raw["feature"], method, raw["check"], raw["nodeid"], raw["outcome"], reason, duration)


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _FieldError(field, f"expected an object, got {_kind(value)}")
    return value


def _require(obj: Mapping[str, Any], key: str, prefix: str) -> Any:
    if key not in obj:
        raise _FieldError(f"{prefix}{key}", "missing")
    return obj[key]


def _nonempty_str(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _FieldError(field, f"expected a non-empty string, got {value!r}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
