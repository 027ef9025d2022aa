"""The API's side of the job queue: enqueue training by dotted name, read and cancel jobs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.serializers import JSONSerializer

from models.store import ModelRecord, ModelStore, StoreError, UnknownModelError, update_version
from worker.protocol import (
    META_ERROR,
    META_MODEL_ID,
    META_OUTCOME,
    META_PROGRESS,
    META_RESUMED_FROM,
    META_STAGE,
    META_VERSION,
    ON_TRAIN_FAILURE,
    PROVISIONAL_JOB,
    RQ_FAILURES,
    TRAIN_JOB,
    JobState,
    ModelStatus,
    cancel_key,
    provisional_job_id,
    provisional_queue,
)

from .schemas import JobOut, JobProgress
from .settings import Settings

log = logging.getLogger(__name__)

_STATES = {
    JobStatus.QUEUED: JobState.QUEUED,
    JobStatus.DEFERRED: JobState.QUEUED,
    JobStatus.SCHEDULED: JobState.QUEUED,
    JobStatus.CREATED: JobState.QUEUED,
    JobStatus.STARTED: JobState.RUNNING,
    JobStatus.FINISHED: JobState.SUCCEEDED,
    JobStatus.FAILED: JobState.FAILED,
    JobStatus.STOPPED: JobState.CANCELLED,
    JobStatus.CANCELED: JobState.CANCELLED,
}


def training_queue(connection: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.queue, connection=connection, serializer=JSONSerializer)


def enqueue_training(queue: Queue, model_id: str, job_id: str, settings: Settings) -> Job:
    """Put the provisional fit of ``model_id`` on the provisional queue, and its training on
    ``queue`` under ``job_id``, to start once the provisional fit ended (even if it failed: the
    latent ODE trains all the same)."""
    retry = Retry(max=settings.job_retries) if settings.job_retries else None
    provisional = Queue(
        provisional_queue(queue.name), connection=queue.connection, serializer=JSONSerializer
    ).enqueue(
        PROVISIONAL_JOB,
        model_id,
        job_id=provisional_job_id(job_id),
        job_timeout=settings.provisional_timeout_s,
        result_ttl=settings.job_ttl_s,
        failure_ttl=settings.job_ttl_s,
        retry=retry,
        meta={META_MODEL_ID: model_id},
    )
    return queue.enqueue(
        TRAIN_JOB,
        model_id,
        job_id=job_id,
        depends_on=Dependency(jobs=[provisional], allow_failure=True),
        job_timeout=settings.job_timeout_s,
        result_ttl=settings.job_ttl_s,
        failure_ttl=settings.job_ttl_s,
        retry=retry,
        on_failure=Callback(ON_TRAIN_FAILURE),
        meta={META_MODEL_ID: model_id},
    )


def recent_jobs(connection: redis.Redis, settings: Settings, limit: int) -> list[Job]:
    """The queue's jobs that Redis still holds (waiting, running and ended within
    ``ODECAST_JOB_TTL_S``), newest first."""
    queue = training_queue(connection, settings)
    registries = (
        queue.started_job_registry,
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.canceled_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,  # waiting for their provisional fit
    )
    ids = list(
        dict.fromkeys([*queue.get_job_ids(), *(i for r in registries for i in r.get_job_ids())])
    )
    jobs = [
        job for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer) if job
    ]
    jobs.sort(key=lambda job: job.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return jobs[:limit]


def fetch_job(connection: redis.Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None


def job_state(job: Job) -> JobState:
    status = job.get_status(refresh=False)
    state = _STATES.get(status, JobState.QUEUED) if status is not None else JobState.QUEUED
    if state is JobState.SUCCEEDED and job.meta.get(META_OUTCOME) == JobState.CANCELLED:
        return JobState.CANCELLED
    return state


def job_out(job: Job) -> JobOut:
    """What ``GET /jobs/{id}`` answers for ``job``."""
    state = job_state(job)
    progress = job.meta.get(META_PROGRESS) or {}
    return JobOut(
        job_id=job.id,
        model_id=job.meta.get(META_MODEL_ID),
        status=state,
        progress=JobProgress(**{k: progress[k] for k in JobProgress.model_fields if k in progress}),
        error=_error(job, state),
        resumed_from_epoch=job.meta.get(META_RESUMED_FROM),
        stage=job.meta.get(META_STAGE),
        version=job.meta.get(META_VERSION, 1) if job.meta.get(META_MODEL_ID) else None,
        created_at=_iso(job.created_at),
        started_at=_iso(job.started_at),
        ended_at=_iso(job.ended_at) if state in _ENDED else None,
    )


_ENDED = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}


def request_cancel(connection: redis.Redis, job: Job, settings: Settings) -> None:
    """Ask a job to stop: a queued one is cancelled now, a running one at its next epoch."""
    connection.set(cancel_key(job.id), 1, ex=settings.job_ttl_s)
    if job.get_status() in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
        # a concurrent cancel (DELETE /jobs and DELETE /models together) may have won since
        with contextlib.suppress(InvalidJobOperation):
            job.cancel()


def _error(job: Job, state: JobState) -> str | None:
    if state is not JobState.FAILED:
        return None
    message = job.meta.get(META_ERROR)
    if isinstance(message, str):
        return message
    info = _last_exception_line(job)
    for exception, meaning in RQ_FAILURES.items():
        if exception in info:
            return meaning
    return info or "the job failed"


def _last_exception_line(job: Job) -> str:
    result = job.latest_result()
    text: Any = getattr(result, "exc_string", None) or ""
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def settled(record: ModelRecord, store: ModelStore, connection: redis.Redis) -> ModelRecord:
    """``record``, marked failed with its job's error when its job (its first fit's, or a
    pending refit's) failed without telling the store (a worker that does not share the API's
    store cannot write the record, and the model would stay queued, or its refit pending, for
    ever). Without Redis the record is shown as it is."""
    if record.status in (ModelStatus.QUEUED, ModelStatus.TRAINING):
        error = _failed_job_error(connection, record.job_id)
        if error is not None:
            record = _recorded(
                lambda: store.update_record(record.model_id, status=FAILED, error=error),
                record,
                shown=record.changed(status=FAILED, error=error),
            )
    pending = record.pending_version
    entry = None if pending is None else record.version_record(pending)
    if pending is not None and entry is not None:
        error = _failed_job_error(connection, entry.job_id)
        if error is not None:
            record = _recorded(
                lambda: update_version(store, record.model_id, pending, status=FAILED, error=error),
                record,
                shown=record,
            )
    return record


FAILED = ModelStatus.FAILED


def _failed_job_error(connection: redis.Redis, job_id: str | None) -> str | None:
    """The error of job ``job_id`` if it failed; None if it did not, or cannot be told."""
    if job_id is None:
        return None
    try:
        job = fetch_job(connection, job_id)
    except redis.RedisError:
        return None
    if job is None or job_state(job) is not JobState.FAILED:
        return None
    return str(job.meta.get(META_ERROR) or "the training job failed")


def _recorded(
    write: Callable[[], ModelRecord], record: ModelRecord, *, shown: ModelRecord
) -> ModelRecord:
    """The record as ``write`` leaves it; ``record`` when the model is gone, ``shown`` when the
    store cannot be written now (shown, not kept: the next read tries again)."""
    try:
        return write()
    except UnknownModelError:
        return record
    except (StoreError, OSError) as err:
        log.warning("model %s: cannot record its failed job: %s", record.model_id, err)
        return shown
