"""The model store: each model's registry record, data set and checkpoints.

Two backends keep the same layout and guarantees: a local folder (`Store`, the default) and
S3-compatible object storage (`S3Store`, for API and workers on several hosts). `open_store`
picks one from ``ODECAST_STORE``; code that only uses a store types it as `ModelStore`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..objects import ObjectFolder
from ..series import Dataset
from .encoding import check_id, dataset_from_json, dataset_to_json, new_id
from .errors import CorruptFileError, StoreError, StoreUnavailableError, UnknownModelError
from .local import Store
from .record import (
    ModelRecord,
    ModelStatus,
    Stage,
    VersionRecord,
    new_record,
    record_from_json,
    utc_now,
)

if TYPE_CHECKING:
    from .s3 import S3Store

__all__ = [
    "CorruptFileError",
    "ModelRecord",
    "ModelStatus",
    "ModelStore",
    "Stage",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UnknownModelError",
    "VersionRecord",
    "check_id",
    "dataset_from_json",
    "dataset_to_json",
    "is_s3_url",
    "new_id",
    "new_record",
    "open_store",
    "record_from_json",
    "update_version",
    "utc_now",
]


class ModelStore(Protocol):
    """What the API and the workers use of a store, whichever the backend."""

    @property
    def url(self) -> str: ...

    def training_dir(self, model_id: str, version: int = ...) -> Path | ObjectFolder: ...

    def trained_dir(self, model_id: str, version: int = ...) -> Path | ObjectFolder: ...

    def create_model(self, model_id: str, record: ModelRecord, dataset: Dataset) -> None: ...

    def exists(self, model_id: str) -> bool: ...

    def record(self, model_id: str) -> ModelRecord: ...

    def update_record(self, model_id: str, **changes: Any) -> ModelRecord: ...

    def change_record(
        self, model_id: str, change: Callable[[ModelRecord], dict[str, Any]]
    ) -> ModelRecord: ...

    def records(self) -> list[ModelRecord]: ...

    def dataset(self, model_id: str, version: int = ...) -> Dataset: ...

    def add_version(self, model_id: str, version: int, dataset: Dataset) -> None: ...

    def delete_model(self, model_id: str) -> bool: ...

    def remove_training(self, model_id: str, version: int = ...) -> None: ...

    def discard_remains(self, model_id: str) -> None: ...

    def problem(self) -> str | None: ...

    def prepare(self) -> None: ...

    def remove_leftovers(self, older_than_s: float = ...) -> None: ...


def update_version(store: ModelStore, model_id: str, version: int, **changes: Any) -> ModelRecord:
    """Apply ``changes`` to version ``version``'s entry of the record (a refit's, while it is
    not the serving one); an entry that ends (failed, cancelled) is no longer pending."""

    def change(record: ModelRecord) -> dict[str, Any]:
        entry = record.version_record(version)
        if entry is None:
            raise UnknownModelError(f"{model_id} (version {version})")
        entry = VersionRecord.model_validate({**entry.model_dump(mode="json"), **changes})
        ended = entry.status in (ModelStatus.FAILED, ModelStatus.CANCELLED)
        pending = None if ended and record.pending_version == version else record.pending_version
        return {"versions": record.with_version(entry), "pending_version": pending}

    return store.change_record(model_id, change)


def is_s3_url(location: str | Path) -> bool:
    return str(location).startswith("s3://")


def open_store(location: str | Path) -> Store | S3Store:
    """The store at ``location``: ``s3://bucket/prefix`` or a local folder."""
    if is_s3_url(location):
        from .s3 import S3Store  # boto3 loads only for a store that needs it

        return S3Store(str(location))
    return Store(location)
