"""Crash-proof saving: a save is written into a sibling folder and swapped in as a whole, so a folder on disk is
always one complete save, the old one or the new one, even when the process is killed half-way.

On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``: atomic. Elsewhere it is two renames; a kill between them
leaves the old save beside the target as ``.<name>.replaced``, and loading names it (``missing_folder_message``).
Files of the old folder that the save does not write (a tokenizer saved there, say) are carried over, except what
the caller says the save ``replaces``. Each save also records the sha256 of its weight files, so that a folder whose
files come from different saves is refused when loading (``check_hashes``).
"""

from __future__ import annotations

import ctypes
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file


REPLACED_SUFFIX = ".replaced"
_STAGING_MARK = ".saving-"


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    """Write ``tensors`` as safetensors; returns the file's sha256, for the config written next to it."""
    save_file(tensors, str(path), metadata={"format": "pt"})
    return sha256_of(path)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_hashes(config_path: Path, recorded: Any) -> None:
    """Refuse a folder whose files are not the ones its config was saved with (``recorded``: {file: sha256})."""
    if not recorded:
        return  # saved before hashes were recorded
    if not isinstance(recorded, dict):
        raise ValueError(f"{config_path}: 'sha256' must map file names to hashes, got {recorded!r}")
    for name, expected in sorted(recorded.items()):
        path = config_path.parent / name
        if path.is_file() and sha256_of(path) != expected:
            raise ValueError(
                f"{path} is not the file {config_path.name} was saved with (its sha256 differs from the one recorded "
                "then): it was changed, or the folder mixes files of different saves; save it again"
            )


def missing_folder_message(directory: Path) -> str:
    """What to say when ``directory`` is missing: an interrupted swap may have left the old save beside it."""
    replaced = _replaced(directory)
    if replaced.is_dir():
        return (
            f"{directory} does not exist, but {replaced} does: a save into it was interrupted; the old save is "
            f"{replaced} (rename it to {directory.name} to use it)"
        )
    return "no such folder"


@contextmanager
def replacing(directory: Path, replaces: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty folder to write a save into; on success it replaces ``directory`` in one step.

    Entries of the old ``directory`` the save did not write are carried over, except those matching a pattern of
    ``replaces`` (what an earlier save of the same kind wrote and this one supersedes). On failure nothing changes.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_staging(directory)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}{_STAGING_MARK}{os.getpid()}-", dir=directory.parent))
    try:
        yield staging
        if directory.exists():
            if not directory.is_dir():
                raise NotADirectoryError(f"cannot save into {directory}: it is a file")
            _carry_over(directory, staging, tuple(replaces))
        _swap_in(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after the swap: the old save


def _carry_over(old: Path, new: Path, replaces: tuple[str, ...]) -> None:
    for entry in old.iterdir():
        target = new / entry.name
        if target.exists() or any(fnmatch.fnmatch(entry.name, pattern) for pattern in replaces):
            continue
        if entry.is_dir():
            shutil.copytree(entry, target, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _link_or_copy(source: Any, target: Any) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _replaced(directory: Path) -> Path:
    return directory.parent / f".{directory.name}{REPLACED_SUFFIX}"


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _swap_in(staging: Path, directory: Path) -> None:
    """Put ``staging`` at ``directory``; the old ``directory`` ends up at ``staging`` (deleted by the caller)."""
    if not directory.exists():
        os.rename(staging, directory)
        return
    if _exchange(staging, directory):
        return
    replaced = _replaced(directory)
    shutil.rmtree(replaced, ignore_errors=True)
    os.rename(directory, replaced)
    os.rename(staging, directory)
    shutil.rmtree(replaced, ignore_errors=True)


def _remove_abandoned_staging(directory: Path) -> None:
    """Staging folders of saves into ``directory`` whose process died (killed half-way) are garbage."""
    prefix = f".{directory.name}{_STAGING_MARK}"
    if not directory.parent.is_dir():
        return
    for entry in directory.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
