"""The model store: one folder per model holding its data set, registry record and checkpoints.

Layout under the store's root (``ODECAST_STORE``)::

    models/<model_id>/record.json     the registry entry (status, config, metrics...), JSON
    models/<model_id>/dataset.json    the validated training series, JSON
    models/<model_id>/training/       the last training checkpoint, for resuming (safetensors)
    models/<model_id>/trained/        the model that serves predictions (safetensors)
    redis/                            the embedded Redis' persistence (``odecast up``)

Every file is replaced atomically (temporary file, fsync, rename); a model folder appears whole
(built under a temporary name, then renamed) and disappears whole (renamed away, then removed).
Paths are only ever built from ids that match ``ID_PATTERN``; nothing here unpickles. The store
does not need Redis, so models outlive it. Torch is not imported here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import TMP_PREFIX, fsync_directory, write_atomic
from .series import ID_PATTERN, Dataset, Series, TimeKind

RECORD_FILE = "record.json"
DATASET_FILE = "dataset.json"
TRAINING_DIR = "training"
TRAINED_DIR = "trained"
LOCK_FILE = ".lock"
DATASET_FORMAT = "odecast-dataset"
_TRASH_PREFIX = ".trash-"


class StoreError(Exception):
    """Base class of the store's errors."""


class UnknownModelError(StoreError, KeyError):
    """No model with this id is in the store."""

    def __init__(self, model_id: str) -> None:
        super().__init__(model_id)
        self.model_id = model_id

    def __str__(self) -> str:
        return f"no model {self.model_id!r} in the store"


class CorruptFileError(StoreError, ValueError):
    """A file of the store cannot be read back; the message names it."""


def check_id(value: str, what: str = "id") -> str:
    """``value`` if it is a valid id, else ValueError naming the rule."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not valid: use 1 to 64 letters, digits, '_' or '-'")
    return value


def new_id(prefix: str) -> str:
    """A fresh random id such as ``m-1f3a...`` (valid under ``ID_PATTERN``)."""
    return f"{prefix}-{uuid.uuid4().hex}"


class Store:
    """The store rooted at ``root`` (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.models_dir = self.root / "models"
        self.redis_dir = self.root / "redis"

    # -- paths -----------------------------------------------------------------------------

    def model_dir(self, model_id: str) -> Path:
        return self.models_dir / check_id(model_id, "model id")

    def training_dir(self, model_id: str) -> Path:
        return self.model_dir(model_id) / TRAINING_DIR

    def trained_dir(self, model_id: str) -> Path:
        return self.model_dir(model_id) / TRAINED_DIR

    # -- models ----------------------------------------------------------------------------

    def create_model(self, model_id: str, record: dict[str, Any], dataset: Dataset) -> None:
        """Add a model with its registry record and data set, all at once."""
        final = self.model_dir(model_id)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise FileExistsError(f"model {model_id!r} already exists")
        building = self.models_dir / f"{TMP_PREFIX}{model_id}-{uuid.uuid4().hex[:8]}"
        building.mkdir()
        try:
            write_atomic(building / DATASET_FILE, _dumps(dataset_to_json(dataset)))
            write_atomic(building / RECORD_FILE, _dumps(record))
            os.rename(building, final)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        fsync_directory(self.models_dir)

    def exists(self, model_id: str) -> bool:
        return (self.model_dir(model_id) / RECORD_FILE).is_file()

    def record(self, model_id: str) -> dict[str, Any]:
        """The model's registry record; UnknownModelError if there is no such model."""
        path = self.model_dir(model_id) / RECORD_FILE
        return _load_json(path, model_id)

    def update_record(self, model_id: str, **changes: Any) -> dict[str, Any]:
        """Apply ``changes`` to the record under the model's lock; return the new record."""
        with self.lock(model_id):
            record = self.record(model_id)
            record.update(changes)
            write_atomic(self.model_dir(model_id) / RECORD_FILE, _dumps(record))
            return record

    def records(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first. Unreadable ones are left out, not raised."""
        if not self.models_dir.is_dir():
            return []
        found = []
        for path in self.models_dir.iterdir():
            if not ID_PATTERN.fullmatch(path.name):
                continue
            with contextlib.suppress(StoreError):
                found.append(self.record(path.name))
        return sorted(found, key=lambda r: (str(r.get("created_at", "")), r.get("model_id", "")))

    def dataset(self, model_id: str) -> Dataset:
        """The training data set of the model."""
        return dataset_from_json(_load_json(self.model_dir(model_id) / DATASET_FILE, model_id))

    def delete_model(self, model_id: str) -> bool:
        """Remove the model and its files; False if there was none."""
        folder = self.model_dir(model_id)
        trash = self.models_dir / f"{_TRASH_PREFIX}{model_id}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(folder, trash)
        except FileNotFoundError:
            return False
        fsync_directory(self.models_dir)
        shutil.rmtree(trash, ignore_errors=True)
        return True

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
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            probe = self.root / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError:
            return False
        return True

    def remove_leftovers(self) -> None:
        """Remove half-built and half-deleted model folders that a crash left behind."""
        if not self.models_dir.is_dir():
            return
        for path in self.models_dir.iterdir():
            if path.name.startswith((TMP_PREFIX, _TRASH_PREFIX)):
                shutil.rmtree(path, ignore_errors=True)


# -- data sets as JSON -----------------------------------------------------------------------


def dataset_to_json(dataset: Dataset) -> dict[str, Any]:
    """A data set as JSON: times as numbers (POSIX seconds for datetimes), null where missing."""
    return {
        "format": DATASET_FORMAT,
        "time_kind": str(dataset.time_kind),
        "series": [
            {
                "id": s.id,
                "times": s.times.tolist(),
                "values": [[None if math.isnan(v) else v for v in r] for r in s.values.tolist()],
            }
            for s in dataset.series
        ],
    }


def dataset_from_json(data: dict[str, Any]) -> Dataset:
    """The inverse of ``dataset_to_json``."""
    if data.get("format") != DATASET_FORMAT:
        raise CorruptFileError(f"not an odecast data set (format {data.get('format')!r})")
    series = tuple(
        Series(
            id=s["id"],
            times=np.asarray(s["times"], dtype=np.float64),
            values=np.asarray(
                [[math.nan if v is None else v for v in row] for row in s["values"]],
                dtype=np.float64,
            ),
        )
        for s in data["series"]
    )
    return Dataset(series=series, time_kind=TimeKind(data["time_kind"]))


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=1, allow_nan=False).encode()


def _load_json(path: Path, model_id: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise UnknownModelError(model_id) from err
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise CorruptFileError(f"{path.name} of model {model_id!r} is not valid JSON") from err
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path.name} of model {model_id!r} is not a JSON object")
    return data
