"""``POST /models/{model_id}/refit`` behind the route: merge the new observations into the
serving version's data set, register the new version, enqueue its training.

The new version trains from the serving version's weights and optimizer state; the serving
version answers until the new one is final (``worker.jobs``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import redis
from rq import Callback, Retry

from models.series import Dataset, Series, SeriesValidationError, parse_dataset
from models.store import (
    ModelRecord,
    ModelStatus,
    ModelStore,
    Stage,
    UnknownModelError,
    VersionRecord,
    new_id,
    update_version,
    utc_now,
)
from worker.protocol import META_MODEL_ID, META_VERSION, ON_TRAIN_FAILURE, TRAIN_JOB

from .errors import ApiError, invalid_input, not_found, queue_unavailable
from .fitting import TIMEOUT_MARGIN_S
from .limits import check_series_sizes
from .queueing import training_queue
from .schemas import RefitAccepted, RefitRequest
from .series_errors import series_error
from .settings import Settings


def refit(
    model_id: str,
    body: RefitRequest,
    store: ModelStore,
    connection: redis.Redis,
    settings: Settings,
) -> RefitAccepted:
    """Check the new observations against the model, store the merged data set as the next
    version, and enqueue its training; the 202 answer."""
    try:
        record = store.record(model_id)
    except UnknownModelError:
        raise not_found("model", model_id) from None
    _check_refittable(record)
    new = _parse(body, record, settings)
    merged, added = _merged(store.dataset(model_id, record.version), new, record.version)
    if sum(len(s) for s in merged.series) > settings.max_points:
        message = f"the refit's data set would hold more than {settings.max_points} observations"
        raise ApiError(422, "too_large", message, [{"loc": "body.series", "msg": message}])
    training = _training(record, body, settings)
    job_id = new_id("j")
    entry = VersionRecord(
        version=2,  # a placeholder: the next free version, chosen under the record's lock
        parent_version=record.version,
        points_added=added,
        n_series=len(merged.series),
        n_points=sum(len(s) for s in merged.series),
        series_ids=[s.id for s in merged.series],
        time_range=[
            min(float(s.times[0]) for s in merged.series),
            max(float(s.times[-1]) for s in merged.series),
        ],
        status=ModelStatus.QUEUED,
        job_id=job_id,
        training=training,
        created_at=utc_now(),
    )

    def register(current: ModelRecord) -> dict[str, Any]:
        # another refit may have registered, or ended and changed the serving version,
        # since the data set was merged: the version is chosen here, under the record's lock
        _check_refittable(current)
        if current.version != record.version:
            raise ApiError(
                409,
                "refit_in_progress",
                f"model {model_id!r} changed version while this refit was read; send it again",
            )
        taken = [v.version for v in current.versions] or [current.version]
        chosen = entry.model_copy(update={"version": max(taken) + 1})
        return {"versions": current.with_version(chosen), "pending_version": chosen.version}

    version = store.change_record(model_id, register).pending_version
    assert version is not None  # register set it
    try:
        store.add_version(model_id, version, merged)  # no job reads it before it is queued
    except BaseException:
        with contextlib.suppress(UnknownModelError):
            update_version(store, model_id, version, status=ModelStatus.FAILED, error="not stored")
        raise
    try:
        training_queue(connection, settings).enqueue(
            TRAIN_JOB,
            model_id,
            version,
            job_id=job_id,
            job_timeout=settings.job_timeout_s,
            result_ttl=settings.job_ttl_s,
            failure_ttl=settings.job_ttl_s,
            retry=Retry(max=settings.job_retries) if settings.job_retries else None,
            on_failure=Callback(ON_TRAIN_FAILURE),
            meta={META_MODEL_ID: model_id, META_VERSION: version},
        )
    except redis.RedisError:
        with contextlib.suppress(UnknownModelError):
            update_version(store, model_id, version, status=ModelStatus.FAILED, error="not queued")
        raise queue_unavailable() from None
    return RefitAccepted(
        job_id=job_id, model_id=model_id, version=version, status_url=f"/jobs/{job_id}"
    )


def _check_refittable(record: ModelRecord) -> None:
    """409 unless the serving version is trained (final, or ready in a record written before
    stages) and no refit is under way."""
    ready_before_stages = record.stage is None and record.status is ModelStatus.READY
    if record.stage is not Stage.FINAL and not ready_before_stages:
        raise ApiError(
            409,
            "model_not_ready",
            f"model {record.model_id!r} is {record.status} (stage {record.stage}): a refit "
            f"starts from a trained model's weights; follow its job at /jobs/{record.job_id}, "
            "or fit again",
        )
    if record.pending_version is not None:
        raise ApiError(
            409,
            "refit_in_progress",
            f"model {record.model_id!r} is being refitted (version {record.pending_version}); "
            "wait for that job to end, or cancel it",
        )


def _parse(body: RefitRequest, record: ModelRecord, settings: Settings) -> Dataset:
    """The new observations, validated like a fit's, of the model's dimensions and time kind."""
    check_series_sizes(body.series, settings, "body.series")
    try:
        dataset = parse_dataset([s.model_dump() for s in body.series])
    except SeriesValidationError as err:
        raise series_error(err, "body.series") from err
    if dataset.dims != record.dims:
        message = f"the model has {record.dims} dimension(s), these series {dataset.dims}"
        raise invalid_input("body.series[0].values", message)
    if dataset.time_kind is not record.time_kind:
        message = f"the model was fitted on {record.time_kind} times, not {dataset.time_kind}"
        raise invalid_input("body.series[0].times", message)
    return dataset


def _merged(parent: Dataset, new: Dataset, version: int) -> tuple[Dataset, int]:
    """The parent's series with the new observations added (a new id is a new series), and
    how many observations were added; 422 for a time a series already observes."""
    series = {s.id: s for s in parent.series}
    for position, extra in enumerate(new.series):
        before = series.get(extra.id)
        if before is None:
            series[extra.id] = extra
            continue
        repeated = np.intersect1d(before.times, extra.times)
        if repeated.size:
            message = (
                f"time {repeated[0]:g} is already observed in series {extra.id!r} of version "
                f"{version}; a refit adds new times (a correction is a new fit)"
            )
            raise invalid_input(f"body.series[{position}].times", message)
        times = np.concatenate([before.times, extra.times])
        order = np.argsort(times, kind="stable")
        values = np.concatenate([before.values, extra.values])[order]
        series[extra.id] = Series(extra.id, times[order], values)
    added = sum(len(s) for s in new.series)
    return Dataset(tuple(series.values()), parent.time_kind), added


def _training(record: ModelRecord, body: RefitRequest, settings: Settings) -> dict[str, Any]:
    """The refit's changes to the training settings, checked over the model's (the worker
    puts them over the refit's defaults, ``models.latent.train.refit_training``)."""
    from models.latent.train import TrainingConfig

    changes = body.training.model_dump(exclude_none=True)
    try:
        training = TrainingConfig(**{**record.config["training"], **changes})
    except (TypeError, ValueError) as err:
        raise invalid_input("body.training", str(err)) from err
    longest = settings.job_timeout_s - TIMEOUT_MARGIN_S
    if training.max_seconds > longest:
        message = (
            f"max_seconds {training.max_seconds:g} leaves no room in the job timeout "
            f"(ODECAST_JOB_TIMEOUT_S={settings.job_timeout_s}); use at most {longest}"
        )
        raise invalid_input("body.training.max_seconds", message)
    return changes
