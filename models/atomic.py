"""Atomic, durable file writes: write a temporary file in the same folder, fsync, rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TMP_PREFIX = ".tmp-"


def stage(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new temporary file in ``directory``, fsynced; return its path."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f"{TMP_PREFIX}{name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (POSIX; elsewhere renames are left to the OS)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader sees the old file or the new one, never a part."""
    staged = stage(path.parent, path.name, data)
    try:
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
