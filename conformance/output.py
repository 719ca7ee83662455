"""The results file of a run: checked when the run starts, so that a bad path costs a usage error, not the run."""

from __future__ import annotations

import os
from pathlib import Path


def results_path_problem(path: str) -> str | None:
    """Why ``path`` cannot take the results file (written atomically, parent folders created), or None."""
    target = Path(path)
    if not target.name or target.is_dir():
        return "is a directory; give a file path such as results/latest.json"
    folder = target.parent.absolute()
    while not folder.exists():  # write_results creates the missing folders: the nearest existing one must allow it
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder; give a path under a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder} (permission denied); give a path in a folder you can write to"
    return None
