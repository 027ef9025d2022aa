"""The model store in a local folder: one folder per model holding its data set, registry record
and checkpoints.

Layout under the store's root (``ODECAST_STORE``)::

    models/<model_id>/record.json     the registry entry (status, config, metrics...), JSON
    models/<model_id>/dataset.json    the validated training series, JSON
    models/<model_id>/training/       the last training checkpoint, for resuming (safetensors)
    models/<model_id>/trained/        the model that serves predictions (safetensors)
    models/<model_id>/versions/<n>/   a refit's version n: its dataset.json, training/, trained/
    redis/                            the embedded Redis' persistence (``odecast up``)

Every file is replaced atomically (temporary file, fsync, rename); a model folder appears whole
(built under a temporary name, then renamed) and disappears whole (renamed away, then removed).
Records are updated under a lock that holds across the processes of one host (``flock``): a store
shared between hosts belongs in object storage (`models.store.s3`). Paths are only ever built from
ids that match ``ID_PATTERN``; nothing here unpickles. The store does not need Redis, so models
outlive it. Torch is not imported here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..atomic import TMP_PREFIX, fsync_directory, write_atomic
from ..series import ID_PATTERN, Dataset
from .encoding import (
    DATASET_FILE,
    RECORD_FILE,
    TRAINED_DIR,
    TRAINING_DIR,
    check_id,
    dataset_from_json,
    dataset_to_json,
    dumps,
    loads,
    sort_records,
    version_folder,
)
from .errors import StoreError, UnknownModelError
from .record import ModelRecord, record_from_json

LOCK_FILE = ".lock"
_TRASH_PREFIX = ".trash-"
# Leftovers of a crash younger than this are left alone (``Store.remove_leftovers``).
LEFTOVER_AGE_S = 3600.0


class Store:
    """The store in the folder ``root`` (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.models_dir = self.root / "models"
        self.redis_dir = self.root / "redis"

    @property
    def url(self) -> str:
        """Where the store is, for messages."""
        return str(self.root)

    # -- paths -----------------------------------------------------------------------------

    def model_dir(self, model_id: str) -> Path:
        return self.models_dir / check_id(model_id, "model id")

    def version_dir(self, model_id: str, version: int = 1) -> Path:
        return self.model_dir(model_id) / version_folder(version)

    def training_dir(self, model_id: str, version: int = 1) -> Path:
        return self.version_dir(model_id, version) / TRAINING_DIR

    def trained_dir(self, model_id: str, version: int = 1) -> Path:
        return self.version_dir(model_id, version) / TRAINED_DIR

    # -- models ----------------------------------------------------------------------------

    def create_model(self, model_id: str, record: ModelRecord, dataset: Dataset) -> None:
        """Add a model with its registry record and data set, all at once."""
        final = self.model_dir(model_id)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise FileExistsError(f"model {model_id!r} already exists")
        building = self.models_dir / f"{TMP_PREFIX}{model_id}-{uuid.uuid4().hex[:8]}"
        building.mkdir()
        try:
            write_atomic(building / DATASET_FILE, dumps(dataset_to_json(dataset)))
            write_atomic(building / RECORD_FILE, dumps(record.to_json()))
            os.rename(building, final)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        fsync_directory(self.models_dir)

    def exists(self, model_id: str) -> bool:
        return (self.model_dir(model_id) / RECORD_FILE).is_file()

    def record(self, model_id: str) -> ModelRecord:
        """The model's registry record; UnknownModelError if there is no such model,
        CorruptFileError if it cannot be read as one."""
        path = self.model_dir(model_id) / RECORD_FILE
        return record_from_json(_load_json(path, model_id), model_id)

    def update_record(self, model_id: str, **changes: Any) -> ModelRecord:
        """Apply ``changes`` to the record under the model's lock, stamping ``updated_at``;
        return the new record."""
        return self.change_record(model_id, lambda _: changes)

    def change_record(
        self, model_id: str, change: Callable[[ModelRecord], dict[str, Any]]
    ) -> ModelRecord:
        """``update_record`` with the changes that ``change`` computes from the record as it
        is, under the same lock."""
        with self.lock(model_id):
            record = self.record(model_id)
            record = record.changed(**change(record))
            write_atomic(self.model_dir(model_id) / RECORD_FILE, dumps(record.to_json()))
            return record

    def records(self) -> list[ModelRecord]:
        """Every readable record, oldest first. Unreadable ones are left out, not raised."""
        if not self.models_dir.is_dir():
            return []
        found = []
        for path in self.models_dir.iterdir():
            if not ID_PATTERN.fullmatch(path.name):
                continue
            with contextlib.suppress(StoreError):
                found.append(self.record(path.name))
        return sort_records(found)

    def dataset(self, model_id: str, version: int = 1) -> Dataset:
        """The training data set of the model's ``version``."""
        path = self.version_dir(model_id, version) / DATASET_FILE
        return dataset_from_json(_load_json(path, model_id))

    def add_version(self, model_id: str, version: int, dataset: Dataset) -> None:
        """Store the data set of a new version (``version`` >= 2) of an existing model."""
        if version < 2:
            raise ValueError(f"version {version}: a model's first fit is stored with the model")
        if not self.exists(model_id):
            raise UnknownModelError(model_id)
        folder = self.version_dir(model_id, version)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / DATASET_FILE, dumps(dataset_to_json(dataset)))

    def delete_model(self, model_id: str) -> bool:
        """Remove the model and its files; False if there was none."""
        folder = self.model_dir(model_id)
        trash = self.models_dir / f"{_TRASH_PREFIX}{model_id}-{uuid.uuid4().hex[:8]}"
        try:
            # under the record's lock: a record update racing the delete (a job cancelled at
            # the same time) would write into the renamed folder and fail with ENOENT
            with self.lock(model_id):
                os.rename(folder, trash)
        except (FileNotFoundError, UnknownModelError):
            return False
        fsync_directory(self.models_dir)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def remove_training(self, model_id: str, version: int = 1) -> None:
        """Remove a version's training checkpoint (it is trained, or starts over)."""
        shutil.rmtree(self.training_dir(model_id, version), ignore_errors=True)

    def discard_remains(self, model_id: str) -> None:
        """Remove what a job wrote for a model after it was deleted (a checkpoint that raced the
        delete); nothing if the model exists."""
        folder = self.model_dir(model_id)
        if not (folder / RECORD_FILE).exists():
            shutil.rmtree(folder, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, model_id: str) -> Iterator[None]:
        """An exclusive lock on the model's record, across processes on this host."""
        folder = self.model_dir(model_id)
        try:
            fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError as err:
            raise UnknownModelError(model_id) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- health ----------------------------------------------------------------------------

    def is_writable(self) -> bool:
        """Whether a file can be written and removed in the store now."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the store cannot be used now (``/readyz``), or None if a file can be written and
        removed in it."""
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            probe = self.root / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as err:
            return f"not writable: {self.root} ({err.strerror or err})"
        return None

    def prepare(self) -> None:
        """Create the store's folder if it is missing (the API does at start)."""
        self.models_dir.mkdir(parents=True, exist_ok=True)

    def remove_leftovers(self, older_than_s: float = LEFTOVER_AGE_S) -> None:
        """Remove half-built and half-deleted model folders that a crash left behind, untouched
        for ``older_than_s`` (younger ones may be a create or a delete under way in another
        process: the API sweeps at every start, and several may start at once)."""
        if not self.models_dir.is_dir():
            return
        now = time.time()
        for path in self.models_dir.iterdir():
            if not path.name.startswith((TMP_PREFIX, _TRASH_PREFIX)):
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime >= older_than_s:
                    shutil.rmtree(path, ignore_errors=True)


def _load_json(path: Path, model_id: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError) as err:
        raise UnknownModelError(model_id) from err
    return loads(raw, path.name, model_id)
