"""``/jobs/{job_id}``: follow a training job, or cancel it."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from models.store import UnknownModelError, update_version
from worker.protocol import META_MODEL_ID, META_VERSION, JobState, ModelStatus

from ..deps import RedisDep, SettingsDep, StoreDep
from ..errors import ApiError, not_found, responses
from ..queueing import fetch_job, job_out, job_state, recent_jobs, request_cancel
from ..schemas import ID_REGEX, JobList, JobOut

router = APIRouter(tags=["jobs"])

JobId = Annotated[str, Path(pattern=ID_REGEX, description="As returned by POST /fit.")]


@router.get("/jobs", response_model=JobList, responses=responses(422, 503))
def list_jobs(
    connection: RedisDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> JobList:
    """Recent training jobs, newest first (Redis keeps ended ones for ODECAST_JOB_TTL_S)."""
    return JobList(jobs=[job_out(job) for job in recent_jobs(connection, settings, limit)])


@router.get("/jobs/{job_id}", response_model=JobOut, responses=responses(404, 422, 503))
def get_job(job_id: JobId, connection: RedisDep) -> JobOut:
    job = fetch_job(connection, job_id)
    if job is None:
        raise not_found("job", job_id)
    return job_out(job)


@router.delete(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses={202: {"model": JobOut}, **responses(404, 409, 422, 503)},
    summary="Cancel a job: a queued one at once (200), a running one at its next epoch (202)",
)
def cancel_job(
    job_id: JobId, response: Response, connection: RedisDep, store: StoreDep, settings: SettingsDep
) -> JobOut:
    job = fetch_job(connection, job_id)
    if job is None:
        raise not_found("job", job_id)
    state = job_state(job)
    if state not in (JobState.QUEUED, JobState.RUNNING):
        raise ApiError(409, "job_finished", f"job {job_id!r} has already ended: {state}")
    request_cancel(connection, job, settings)
    job.refresh()
    if job_state(job) is JobState.CANCELLED:
        model_id, version = job.meta.get(META_MODEL_ID), job.meta.get(META_VERSION, 1)
        if isinstance(model_id, str):
            with contextlib.suppress(UnknownModelError, ValueError):
                if version == 1:
                    store.update_record(model_id, status=str(ModelStatus.CANCELLED))
                else:  # a refit's: the serving version is untouched
                    update_version(store, model_id, version, status=ModelStatus.CANCELLED)
    else:
        response.status_code = 202
    return job_out(job)
