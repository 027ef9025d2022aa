"""Where a checkpoint's files live, and how a save commits them there.

- A local directory (`LocalFiles`): every file is staged under a temporary name and fsynced, the
  tensor files are renamed into place, then ``meta.json`` last.
- An object folder in S3-compatible storage (`ObjectFiles`), which has no rename: the tensor files
  are written as new objects named by version (``model.v3.safetensors``), then ``meta.json``,
  which names them, then the objects of older versions are deleted.

Either way ``meta.json`` is the commit: a reader goes through it and checks each file against it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .atomic import TMP_PREFIX, fsync_directory, stage
from .objects import ObjectFolder

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
META_FILE = "meta.json"
# The only object names meta.json may point a reader at (never a path a client could choose).
OBJECT_NAME = re.compile(r"(model|optimizer)(\.v[0-9]{1,12})?\.safetensors")


class CheckpointError(ValueError):
    """A checkpoint is missing, torn (files from two different saves), corrupt or malformed.

    The message names the file and what is wrong with it.
    """


class LocalFiles:
    """A checkpoint in the directory ``directory``; one process writes it at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def where(self, name: str) -> str:
        return str(self.directory / name)

    def object_name(self, name: str, version: int) -> str:
        return name

    def check_there(self) -> None:
        if not self.directory.is_dir():
            raise CheckpointError(
                f"{self.directory}: no checkpoint here (not an existing directory)"
            )

    def read(self, name: str) -> bytes:
        return read_file(self.directory / name)

    def read_meta(self) -> bytes | None:
        """meta.json, or None if there is none; CheckpointError if it cannot be read."""
        path = self.directory / META_FILE
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:
            raise CheckpointError(f"{path}: cannot be read: {err}") from err

    def commit(self, objects: dict[str, bytes], meta: bytes) -> None:
        """Write ``objects`` then ``meta`` (the commit); drop the optimizer file if not saved."""
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.glob(f"{TMP_PREFIX}*"):  # what a save that crashed left
            path.unlink(missing_ok=True)
        staged: dict[str, Path] = {}
        try:
            for name, data in [*objects.items(), (META_FILE, meta)]:
                staged[name] = stage(directory, name, data)
            for name in [*objects, META_FILE]:
                if name == META_FILE:  # the commit: only once the tensor files are in place
                    fsync_directory(directory)
                os.replace(staged[name], directory / name)
                del staged[name]
        finally:
            for path in staged.values():
                path.unlink(missing_ok=True)
        if OPTIMIZER_FILE not in objects:
            (directory / OPTIMIZER_FILE).unlink(missing_ok=True)
        fsync_directory(directory)


class ObjectFiles:
    """A checkpoint in an object folder; one process writes it at a time."""

    def __init__(self, folder: ObjectFolder) -> None:
        self.folder = folder

    def where(self, name: str) -> str:
        return f"{self.folder.url}{name}"

    def object_name(self, name: str, version: int) -> str:
        stem, _, suffix = name.rpartition(".")
        return f"{stem}.v{version}.{suffix}"

    def check_there(self) -> None:
        """Nothing to check: an absent checkpoint shows as a missing meta.json."""

    def read(self, name: str) -> bytes:
        data = self.folder.read(name)
        if data is None:
            raise CheckpointError(f"{self.where(name)}: missing")
        return data

    def read_meta(self) -> bytes | None:
        return self.folder.read(META_FILE)

    def commit(self, objects: dict[str, bytes], meta: bytes) -> None:
        """Write ``objects`` (new names), then ``meta``, then delete what it no longer names."""
        for name, data in objects.items():
            self.folder.write(name, data)
        self.folder.write(META_FILE, meta)
        for stale in set(self.folder.names()) - {*objects, META_FILE}:
            self.folder.delete(stale)


def files_at(location: Path | str | ObjectFolder) -> LocalFiles | ObjectFiles:
    """The checkpoint at ``location``: a directory path, or an object folder."""
    if isinstance(location, str | os.PathLike):
        return LocalFiles(Path(location))
    return ObjectFiles(location)


def read_file(path: Path) -> bytes:
    """The bytes of ``path``, or a CheckpointError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: missing") from err
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read: {err}") from err
