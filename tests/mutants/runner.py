"""Run mutants of the catalogue: copy the repository to a temporary directory, apply one mutant there, run its
selection in a subprocess that imports the copy, and say whether the selection caught it.

``python -m tests.mutants [NAME ...]`` runs the catalogue (or the named entries) and prints the kill table;
``--baseline`` runs each selection on the unmutated copy instead (every one must pass, or a kill means nothing).
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mutants.catalogue import Mutant


ROOT = Path(__file__).resolve().parents[2]
# What a selection needs: the packages and the pytest settings; nothing generated, nothing version-controlled.
COPIED = ("architectures", "conformance", "reference_impl", "reports", "pyproject.toml")
TIMEOUT = 240  # seconds; a selection of one architecture takes a few

KILLED, SURVIVED, BROKEN = "killed", "survived", "broken"


@dataclass(frozen=True)
class Outcome:
    name: str
    selection: str
    status: str  # KILLED, SURVIVED, or BROKEN (the entry or its selection is out of date, or the run crashed)
    seconds: float  # wall-clock
    detail: str = ""
    cpu: float = 0.0  # CPU seconds of the selection's process (what the catalogue's budget counts)


def copy_repository(destination: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)


def apply(mutant: Mutant, root: Path) -> str | None:
    """Apply ``mutant`` under ``root``; the reason it cannot be applied, or None."""
    path = root / mutant.file
    if not path.is_file():
        return f"{mutant.file} does not exist"
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.old)
    if count != 1:
        return f"the text to replace occurs {count} times in {mutant.file} (must be exactly once): update the entry"
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    return None


def pytest_command(mutant: Mutant) -> list[str]:
    command = [sys.executable, "-m", "pytest", "conformance/suite", "-n", "0", "-x", "-q", "--no-header"]
    if importlib.util.find_spec("pytest_randomly") is not None:
        command += ["-p", "no:randomly"]
    return command + mutant.selection()


def run(mutant: Mutant, baseline: bool = False, confirm: bool = False) -> Outcome:
    """Run ``mutant``'s selection on a mutated copy (an unmutated one with ``baseline``). With ``confirm``, the check
    that caught the mutant runs again on the unmutated copy and must pass there, or the kill means nothing."""
    selection = " ".join(mutant.selection())
    started, cpu_before = time.perf_counter(), children_cpu()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        copy = Path(tmp)
        copy_repository(copy)
        problem = None if baseline else apply(mutant, copy)
        if problem:
            return Outcome(mutant.name, selection, BROKEN, 0.0, problem)
        done = run_pytest(copy, pytest_command(mutant))
        if done is None:
            return Outcome(mutant.name, selection, BROKEN, time.perf_counter() - started, f"timed out ({TIMEOUT}s)")
        caught = _first_failure(done.stdout)
        if done.returncode == 1 and confirm:
            (copy / mutant.file).write_text((ROOT / mutant.file).read_text(encoding="utf-8"), encoding="utf-8")
            nodeid = caught.split()[1]
            again = run_pytest(copy, _command_for(mutant, nodeid))
            if again is None or again.returncode != 0:
                return Outcome(
                    mutant.name,
                    selection,
                    BROKEN,
                    time.perf_counter() - started,
                    f"{nodeid} fails without the mutant too: it cannot vouch for the kill",
                    children_cpu() - cpu_before,
                )
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu_before
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    if done.returncode == 0:
        return Outcome(mutant.name, selection, SURVIVED, seconds, tail, cpu)
    if done.returncode == 1:
        return Outcome(mutant.name, selection, KILLED, seconds, caught, cpu)
    what = "selected no check" if done.returncode == 5 else f"pytest exited with {done.returncode}"
    return Outcome(mutant.name, selection, BROKEN, seconds, f"{what}:\n{tail}", cpu)


def _command_for(mutant: Mutant, nodeid: str) -> list[str]:
    """The selection's command narrowed to the one check ``nodeid``."""
    command = pytest_command(mutant)
    at = command.index("-k")
    command = [*command[:at], *command[at + 2 :]]
    command[command.index("conformance/suite")] = nodeid
    return command


def run_pytest(copy: Path, command: list[str]) -> subprocess.CompletedProcess[str] | None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(PYTHONPATH=str(copy), OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    try:
        return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _first_failure(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("FAILED ") or line.startswith("ERROR "):
            return line
    return ""


def _caught_by(outcome: Outcome) -> str:
    """The first failing check of a killed mutant, without its file: ``TestMerge::test_merge[bert-lora]``."""
    words = outcome.detail.split()
    return words[1].split("::", 1)[-1] if outcome.status == KILLED and len(words) > 1 else ""


def kill_table(outcomes: list[Outcome]) -> list[str]:
    rows = [("mutant", "selection", "result", "seconds", "cpu s", "caught by")]
    rows += [(o.name, o.selection, o.status, f"{o.seconds:.1f}", f"{o.cpu:.1f}", _caught_by(o)) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    killed = sum(o.status == KILLED for o in outcomes)
    wall, cpu = sum(o.seconds for o in outcomes), sum(o.cpu for o in outcomes)
    return [*lines, f"{killed} of {len(outcomes)} mutants killed; {wall:.0f} s wall-clock, {cpu:.0f} s CPU"]
