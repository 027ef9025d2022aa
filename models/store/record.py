"""A model's registry record (``record.json``): what the store keeps about a model besides its data
set and checkpoints, as a typed, validated value. The API shows it (``GET /models``); the worker
moves it through its states."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..series import Dataset, TimeKind
from .errors import CorruptFileError


class ModelStatus(StrEnum):
    """Where a model is in its life."""

    QUEUED = "queued"  # its job waits for a worker
    TRAINING = "training"
    READY = "ready"  # trained weights are stored and serve predictions
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped early; serves predictions if it had trained an epoch


class Stage(StrEnum):
    """Which model serves a fit's predictions."""

    PROVISIONAL = "provisional"  # the cheap candidates alone, while the latent ODE trains
    FINAL = "final"  # training ended: every candidate, the latent ODE among them, was weighed


def utc_now() -> str:
    """The time records are stamped with: ISO 8601, UTC."""
    return datetime.now(UTC).isoformat()


class ModelRecord(BaseModel):
    """One model in the registry. Immutable: the store writes changes (`Store.update_record`),
    stamping ``updated_at``. Keys it does not know are kept, so an older release reading a newer
    record loses nothing."""

    model_config = ConfigDict(extra="allow", frozen=True, protected_namespaces=())

    model_id: str
    status: ModelStatus
    job_id: str | None = None
    name: str | None = None
    config: dict[str, Any]
    dims: int = Field(ge=1)
    time_kind: TimeKind
    time_range: list[float] = Field(min_length=2, max_length=2)
    time_scale: float | None = None
    n_series: int = Field(ge=1)
    n_points: int = Field(ge=1)
    series_ids: list[str]
    metrics: dict[str, float] = Field(default_factory=dict)
    skill: dict[str, Any] | None = None
    device: str | None = None
    error: str | None = None
    created_at: str
    updated_at: str
    started_at: str | None = None
    trained_at: str | None = None
    checkpoint_version: int | None = None
    # which model that checkpoint holds; None: nothing servable yet (or a record written before
    # stages, whose checkpoint is final)
    stage: Stage | None = None
    # meta.json of that version (`checkpoint_manifest`): the API loads the model without
    # reading meta.json, one round trip less to an object store.
    checkpoint_manifest: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as ``record.json`` holds it."""
        return self.model_dump(mode="json")

    def changed(self, **changes: Any) -> ModelRecord:
        """This record with ``changes`` applied, validated, and ``updated_at`` stamped now."""
        return record_from_json({**self.to_json(), **changes, "updated_at": utc_now()})


def new_record(
    model_id: str,
    dataset: Dataset,
    config: dict[str, Any],
    *,
    job_id: str | None = None,
    name: str | None = None,
) -> ModelRecord:
    """The record of a model just registered to be trained on ``dataset``: queued."""
    now = utc_now()
    return ModelRecord(
        model_id=model_id,
        name=name,
        status=ModelStatus.QUEUED,
        job_id=job_id,
        config=config,
        dims=dataset.dims,
        time_kind=dataset.time_kind,
        time_range=[
            min(float(s.times[0]) for s in dataset.series),
            max(float(s.times[-1]) for s in dataset.series),
        ],
        n_series=len(dataset),
        n_points=sum(len(s) for s in dataset.series),
        series_ids=[s.id for s in dataset.series],
        created_at=now,
        updated_at=now,
    )


def record_from_json(data: dict[str, Any], model_id: str | None = None) -> ModelRecord:
    """The record ``data`` holds; CorruptFileError naming what is wrong if it is not one."""
    try:
        return ModelRecord.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        owner = model_id if model_id is not None else data.get("model_id")
        raise CorruptFileError(
            f"record.json of model {owner!r}: {where}: {first['msg']}"
            + (f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else "")
        ) from err
