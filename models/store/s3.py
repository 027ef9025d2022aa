"""The model store in S3-compatible object storage, shared by hosts that share nothing else.

``ODECAST_STORE=s3://bucket/prefix`` keeps the same layout as the local store under the prefix
(``models/<model_id>/record.json``, ``dataset.json``, ``training/``, ``trained/``). Object stores
have neither renames nor locks, so the guarantees come from the order of writes and from
conditional writes, never from a host-local lock:

- a model appears when its ``record.json`` is created (``If-None-Match: *``), after its data set;
- a record is updated by compare-and-swap (read with its ETag, write ``If-Match``, retry on a
  conflict), so concurrent updates from the API and workers on any host lose nothing, and an
  update after a delete fails instead of bringing the record back;
- a model disappears when its record is deleted; the rest of its objects go after, and whatever a
  job still writes for it is discarded when the job sees the model gone (`discard_remains`);
- checkpoints are versioned objects committed by their ``meta.json`` (`models.checkpoint`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

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
from .errors import CorruptFileError, StoreError, StoreUnavailableError, UnknownModelError
from .record import ModelRecord, record_from_json
from .s3_objects import ConditionFailedError, S3Folder, parse_s3_url

# A record update that keeps losing its compare-and-swap gives up after this many tries.
UPDATE_ATTEMPTS = 50
_PROBE = ".odecast-probe"


class S3Store:
    """The store under ``s3://bucket/prefix``."""

    def __init__(self, url: str) -> None:
        bucket, prefix = parse_s3_url(url)
        self.root = S3Folder(bucket, prefix)
        self.models = self.root.child("models")

    @property
    def url(self) -> str:
        return self.root.url

    def model_folder(self, model_id: str) -> S3Folder:
        return self.models.child(check_id(model_id, "model id"))

    def version_folder(self, model_id: str, version: int = 1) -> S3Folder:
        folder = self.model_folder(model_id)
        inside = version_folder(version)
        return folder.child(inside) if inside else folder

    def training_dir(self, model_id: str, version: int = 1) -> S3Folder:
        return self.version_folder(model_id, version).child(TRAINING_DIR)

    def trained_dir(self, model_id: str, version: int = 1) -> S3Folder:
        return self.version_folder(model_id, version).child(TRAINED_DIR)

    # -- models ----------------------------------------------------------------------------

    def create_model(self, model_id: str, record: ModelRecord, dataset: Dataset) -> None:
        """Add a model with its registry record and data set; the record, written last and only
        if there is none, makes it exist."""
        folder = self.model_folder(model_id)
        if self.exists(model_id):
            raise FileExistsError(f"model {model_id!r} already exists")
        folder.write(DATASET_FILE, dumps(dataset_to_json(dataset)))
        try:
            folder.write(RECORD_FILE, dumps(record.to_json()), if_absent=True)
        except ConditionFailedError as err:
            raise FileExistsError(f"model {model_id!r} already exists") from err

    def exists(self, model_id: str) -> bool:
        return self.model_folder(model_id).read(RECORD_FILE) is not None

    def record(self, model_id: str) -> ModelRecord:
        """The model's registry record; UnknownModelError if there is no such model."""
        return self._record_and_tag(model_id)[0]

    def update_record(self, model_id: str, **changes: Any) -> ModelRecord:
        """Apply ``changes`` to the record by compare-and-swap, stamping ``updated_at``; return
        the new record."""
        return self.change_record(model_id, lambda _: changes)

    def change_record(
        self, model_id: str, change: Callable[[ModelRecord], dict[str, Any]]
    ) -> ModelRecord:
        """``update_record`` with the changes that ``change`` computes from the record as it
        is (called again on every retry of the compare-and-swap)."""
        folder = self.model_folder(model_id)
        for attempt in range(UPDATE_ATTEMPTS):
            record, tag = self._record_and_tag(model_id)
            record = record.changed(**change(record))
            try:
                folder.write(RECORD_FILE, dumps(record.to_json()), if_tag=tag)
            except ConditionFailedError:
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
                continue
            return record
        raise StoreError(f"record of model {model_id!r}: {UPDATE_ATTEMPTS} conflicting updates")

    def records(self) -> list[ModelRecord]:
        """Every readable record, oldest first. Unreadable ones are left out, not raised."""
        ids = [name for name in self.models.subfolders() if ID_PATTERN.fullmatch(name)]
        raws = self.models.read_many([f"{model_id}/{RECORD_FILE}" for model_id in ids])
        found = []
        for model_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                continue
            try:
                found.append(record_from_json(loads(raw, RECORD_FILE, model_id), model_id))
            except CorruptFileError:
                continue
        return sort_records(found)

    def dataset(self, model_id: str, version: int = 1) -> Dataset:
        """The training data set of the model's ``version``."""
        raw = self.version_folder(model_id, version).read(DATASET_FILE)
        if raw is None:
            raise UnknownModelError(model_id)
        return dataset_from_json(loads(raw, DATASET_FILE, model_id))

    def add_version(self, model_id: str, version: int, dataset: Dataset) -> None:
        """Store the data set of a new version (``version`` >= 2) of an existing model."""
        if version < 2:
            raise ValueError(f"version {version}: a model's first fit is stored with the model")
        if not self.exists(model_id):
            raise UnknownModelError(model_id)
        self.version_folder(model_id, version).write(DATASET_FILE, dumps(dataset_to_json(dataset)))

    def delete_model(self, model_id: str) -> bool:
        """Remove the model and its objects; False if there was none."""
        folder = self.model_folder(model_id)
        if folder.read(RECORD_FILE) is None:
            return False
        folder.delete(RECORD_FILE)
        folder.remove_all()
        return True

    def remove_training(self, model_id: str, version: int = 1) -> None:
        self.training_dir(model_id, version).remove_all()

    def discard_remains(self, model_id: str) -> None:
        """Remove what a job wrote for a model after it was deleted; nothing if it exists."""
        if not self.exists(model_id):
            self.model_folder(model_id).remove_all()

    # -- health ----------------------------------------------------------------------------

    def problem(self) -> str | None:
        """Why the store cannot be used now, or None if an object can be written and removed."""
        try:
            self.root.write(_PROBE, b"ok")
            self.root.delete(_PROBE)
        except StoreUnavailableError as err:
            return str(err)
        return None

    def prepare(self) -> None:
        """Nothing to create: the bucket must exist (``problem`` says when it does not)."""

    def remove_leftovers(self, older_than_s: float = 0.0) -> None:
        """Nothing to do: no write here leaves a temporary object behind (what a delete cut
        short leaves, its retry sweeps: ``discard_remains``)."""

    def _record_and_tag(self, model_id: str) -> tuple[ModelRecord, str]:
        found = self.model_folder(model_id).read_tagged(RECORD_FILE)
        if found is None:
            raise UnknownModelError(model_id)
        raw, tag = found
        return record_from_json(loads(raw, RECORD_FILE, model_id), model_id), tag
