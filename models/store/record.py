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
    CANCELLED = "cancelled"  # stopped early; its provisional stage serves, if it had one


class Stage(StrEnum):
    """Which model serves a fit's predictions."""

    PROVISIONAL = "provisional"  # the cheap candidates alone, while the latent ODE trains
    FINAL = "final"  # training ended: every candidate, the latent ODE among them, was weighed


def utc_now() -> str:
    """The time records are stamped with: ISO 8601, UTC."""
    return datetime.now(UTC).isoformat()


class VersionRecord(BaseModel):
    """One version of a model: its lineage, and where its training stands. A model's first fit
    is version 1; each refit adds one, trained from its parent's weights on the parent's data
    plus the points it brought."""

    model_config = ConfigDict(extra="allow", frozen=True, protected_namespaces=())

    version: int = Field(ge=1)
    parent_version: int | None = None
    points_added: int | None = None  # None: a first fit
    n_series: int = Field(ge=1)
    n_points: int = Field(ge=1)
    series_ids: list[str] = Field(default_factory=list)
    time_range: list[float] = Field(default_factory=list)
    status: ModelStatus
    stage: Stage | None = None
    job_id: str | None = None
    # a refit's changes to its training settings (over ``refit_training``'s defaults)
    training: dict[str, Any] | None = None
    error: str | None = None
    created_at: str
    trained_at: str | None = None
    checkpoint_version: int | None = None
    checkpoint_manifest: dict[str, Any] | None = None


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
    # the version whose fields the record's own are (the one that serves), and its lineage
    version: int = Field(1, ge=1)
    parent_version: int | None = None
    points_added: int | None = None
    # every version, once the model has been refitted (empty before: version 1 alone)
    versions: list[VersionRecord] = Field(default_factory=list)
    pending_version: int | None = None  # a refit not yet final

    def version_record(self, version: int) -> VersionRecord | None:
        """Version ``version``'s entry (the serving one's from the record's own fields when the
        model was never refitted); None if there is no such version."""
        for entry in self.versions:
            if entry.version == version:
                return entry
        return self.serving_version() if version == self.version else None

    def serving_version(self) -> VersionRecord:
        """The serving version, as a version entry, from the record's own fields."""
        return VersionRecord(
            version=self.version,
            parent_version=self.parent_version,
            points_added=self.points_added,
            n_series=self.n_series,
            n_points=self.n_points,
            series_ids=self.series_ids,
            time_range=self.time_range,
            status=self.status,
            stage=self.stage,
            job_id=self.job_id,
            error=self.error,
            created_at=self.created_at,
            trained_at=self.trained_at,
            checkpoint_version=self.checkpoint_version,
            checkpoint_manifest=self.checkpoint_manifest,
        )

    def with_version(self, entry: VersionRecord) -> list[dict[str, Any]]:
        """``versions`` (as JSON, for ``changed``) with ``entry`` added or replacing its own;
        the serving version is listed too from the first refit on."""
        listed = {v.version: v for v in self.versions}
        listed.setdefault(self.version, self.serving_version())
        listed[entry.version] = entry
        return [listed[v].model_dump(mode="json") for v in sorted(listed)]

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
