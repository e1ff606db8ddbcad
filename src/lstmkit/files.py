"""Crash-safe file writes: every file lstmkit writes goes through here.

Each file is written to a temporary name in the same directory, flushed, fsync'ed and renamed over
the old one with ``os.replace`` (atomic on POSIX and Windows), then the directory is fsync'ed: a
crash leaves either the old file or the new one, never half of one. Files get the permissions a
plain ``open()`` would give them (not ``mkstemp``'s 0600).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Callable

from lstmkit.errors import RunDirError

TRAINER_STATE = "trainer_state.pt"  # the Trainer's resume file; a run directory holding it can be resumed


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then fsync ``tmp_path`` and rename it to ``path``.

    ``write`` receives a path (so libraries that only write to file names, like safetensors, work).
    On any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates the file 0600; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj) -> Path:
    """``obj`` as indented JSON, atomically; NumPy scalars become numbers, NaN and inf become null."""
    def default(value):
        if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # NumPy / torch scalars
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return atomic_write_text(path, json.dumps(clean(obj), indent=2, default=default) + "\n")


def check_run_dir(out: str | os.PathLike, *, resume: bool = False, resumable: bool = True) -> Path:
    """Refuse to write a new run over an existing one; ``resume`` needs the interrupted run's files.

    ``out`` may be missing or an empty directory. One rule for every writer of a run directory (the
    command line, ``train_run`` in Python and the Trainer): nothing a user made is overwritten.
    ``resumable=False`` leaves the ``--resume`` hint out of the message, for commands without it.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out} is a file, not a directory; choose another --out")
    if resume:
        if not (out / TRAINER_STATE).exists():
            raise RunDirError(f"--resume: {out} holds no interrupted run (no {TRAINER_STATE}); "
                              "start a new run without --resume")
    elif out.exists() and any(out.iterdir()):
        hint = "choose another --out, or pass --resume to continue it" if resumable else "choose another --out"
        raise RunDirError(f"{out} exists and is not empty; {hint}")
    return out


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Atomically write ``rows`` (dicts) as CSV; columns in first-seen order unless given."""
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable. Not possible on Windows (directories cannot be opened).
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
