"""Folding pytest reports into conformance records: (arch, feature, method, check, outcome, reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


PROPERTY = "conformance"
PROJECT = Path(__file__).resolve().parents[1]  # the directory that holds the conformance package
NOT_APPLICABLE = "n/a"  # the manifest says the check does not apply: neither a pass nor a failure
NOT_FINISHED = "did not run: the session stopped before this check (-x, an interrupt or a crashed worker)"


def record_fields(item: Any) -> dict[str, Any] | None:
    """What an item certifies, read off its parameters; None for items that are not conformance checks."""
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("spec") if callspec is not None else None
    if not hasattr(spec, "name") or item.get_closest_marker("conformance_off_table") is not None:
        return None
    method = callspec.params.get("method")
    gap = item.get_closest_marker("conformance_gap")
    not_applicable = item.get_closest_marker("conformance_not_applicable")
    return {
        "arch": spec.name,
        "feature": item.get_closest_marker("feature").args[0],
        "method": method.name if method is not None else None,
        "check": item.originalname,
        "gap": gap.args[0] if gap else None,
        "not_applicable": not_applicable.args[0] if not_applicable else None,
    }


def project_nodeid(nodeid: str, rootpath: Path) -> str:
    """``nodeid`` with its file part relative to ``PROJECT``, not to pytest's rootdir: an argument can move the rootdir
    (a ``--results`` file that already exists outside the project makes its folder one of the paths pytest starts
    from), and committed results compare check ids as text. A file outside the project keeps pytest's name."""
    path, separator, rest = nodeid.partition("::")
    if not separator:
        return nodeid
    try:
        relative = (rootpath / path).resolve().relative_to(PROJECT)
    except ValueError:
        return nodeid
    return f"{relative.as_posix()}{separator}{rest}"


def _short(report: Any) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    lines = (getattr(report, "longreprtext", "") or "").strip().splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors[0] if errors else (lines[-1] if lines else ""))[:300]


class Recorder:
    """Collects one record per check on the controller, whatever the phase that decided the outcome."""

    def __init__(self, rootpath: Path | None = None) -> None:
        self.rootpath = rootpath  # pytest's rootdir, which the node ids are relative to (None: keep them as they are)
        self.records: dict[str, dict[str, Any]] = {}
        self.expected: dict[str, dict[str, Any]] = {}  # every check the run collected (conformance.completeness)
        self.unplaced: dict[str, str] = {}  # failures reported before the check's fields were known: {nodeid: reason}

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.add(report)

    def add(self, report: Any) -> None:
        fields = next((value for key, value in report.user_properties if key == PROPERTY), None)
        # a report without our fields: xdist's report of an item whose worker crashed
        fields = dict(fields or self.expected.get(report.nodeid) or {})
        if not fields:
            if report.failed:  # placed once the check's fields are known (conformance.completeness)
                self.unplaced.setdefault(report.nodeid, _short(report) or "the check crashed")
            return
        gap = fields.pop("gap")
        not_applicable = fields.pop("not_applicable", None)
        record = self.records.setdefault(
            report.nodeid, {**fields, "nodeid": report.nodeid, "outcome": None, "reason": "", "duration": 0.0}
        )
        record["duration"] = round(record["duration"] + float(getattr(report, "duration", 0.0)), 4)
        if report.failed:
            record["outcome"] = "failed" if report.when == "call" else "error"
            record["reason"] = _short(report)
        elif report.skipped and record["outcome"] is None and not_applicable is not None:
            record["outcome"], record["reason"] = NOT_APPLICABLE, not_applicable
        elif report.skipped and record["outcome"] is None:
            record["outcome"] = "gap" if gap is not None else "skipped"
            record["reason"] = gap if gap is not None else _short(report)
        elif report.when == "call" and report.passed and record["outcome"] is None:
            # a declared gap's check passes only when probed (--probe-gaps): the cell stays a gap
            record["outcome"] = "gap" if gap is not None else "passed"
            record["reason"] = gap or ""

    def checks(self) -> list[dict[str, Any]]:
        never_ran = {
            nodeid: {
                **{k: v for k, v in fields.items() if k not in ("gap", "not_applicable")},
                "nodeid": nodeid,
                "duration": 0.0,
            }
            for nodeid, fields in self.expected.items()
            if nodeid not in self.records
        }
        for nodeid, record in never_ran.items():  # -x, an interrupt or a crashed worker stopped the run before it
            gap = self.expected[nodeid].get("gap")
            not_applicable = self.expected[nodeid].get("not_applicable")
            if not_applicable and nodeid not in self.unplaced:  # it had nothing to run
                record.update(outcome=NOT_APPLICABLE, reason=not_applicable)
                continue
            reason = self.unplaced.get(nodeid) or gap or NOT_FINISHED
            record.update(outcome="gap" if gap and nodeid not in self.unplaced else "error", reason=reason)
        done = list(never_ran.values())
        for record in self.records.values():
            if record["outcome"] is None:  # a check that never reached a verdict is not a pass
                record = {**record, "outcome": "error", "reason": "the check did not finish"}
            done.append(record)
        if self.rootpath is not None:
            done = [{**record, "nodeid": project_nodeid(record["nodeid"], self.rootpath)} for record in done]
        return sorted(done, key=lambda r: r["nodeid"])
