"""What the API and the workers agree on: job names, Redis keys, states. No torch here.

The API enqueues jobs by the dotted names below and never imports the job code (`worker.jobs`)
or the worker; it does import the model code (`models.latent`), to check a fit's config and to
predict. The packages depend one way, models <- worker <- service (tests/test_layers.py).
"""

from __future__ import annotations

from enum import StrEnum

# A model's states belong to its record, in the store; re-exported: both sides use them.
from models.store.record import ModelStatus as ModelStatus

TRAIN_JOB = "worker.jobs.train_model"
PROVISIONAL_JOB = "worker.jobs.fit_provisional"
ON_TRAIN_FAILURE = "worker.jobs.on_train_failure"

# What a job's failure means when RQ, not the job, ended it (by the exception's class name); the
# worker records these, and the API says the same when it reads RQ's record alone.
RQ_FAILURES = {
    "AbandonedJobError": "the worker running this job died and no retries were left",
    "JobTimeoutException": "training ran past the job timeout (ODECAST_JOB_TIMEOUT_S)",
}

KEY_PREFIX = "odecast"

# job.meta keys, written only by the worker.
META_MODEL_ID = "model_id"
META_PROGRESS = "progress"
META_OUTCOME = "outcome"
META_ERROR = "error"
META_RESUMED_FROM = "resumed_from_epoch"
META_VERSION = "version"  # the model version a job trains (absent: 1)
META_STAGE = "stage"  # the model stage stored so far: provisional, then final


class JobState(StrEnum):
    """A training job as clients see it (RQ's statuses folded into five)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def provisional_queue(queue: str) -> str:
    """The queue of a training queue's provisional fits: every worker takes from it first, and
    a light worker (``odecast worker --light``) takes from it alone."""
    return f"{queue}-provisional"


def provisional_job_id(training_job_id: str) -> str:
    """The id of the provisional fit that a training job waits for."""
    return f"{training_job_id}-provisional"


def cancel_key(job_id: str) -> str:
    """A Redis key whose presence asks the job to stop at its next epoch boundary."""
    return f"{KEY_PREFIX}:cancel:{job_id}"


def idempotency_key(digest: str) -> str:
    """Where the job answered for an Idempotency-Key (hashed) is remembered."""
    return f"{KEY_PREFIX}:idempotency:{digest}"
