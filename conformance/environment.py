"""The versions a run is stamped with."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from architectures.versions import installed


def environment(impl: str = "reference") -> dict[str, str | bool | None]:
    return {
        "python": platform.python_version(),
        "torch": installed("torch") or "not installed",
        "transformers": installed("transformers") or "not installed",
        "adapter_conformance": installed("adapter-conformance") or "not installed",
        "impl": impl,
        "commit": _commit(),
        "dirty": _dirty(),
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


def _commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _dirty() -> bool | None:
    """Whether the working tree of the package's checkout has changes (None outside a git checkout)."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(result.stdout.strip()) if result.returncode == 0 else None
