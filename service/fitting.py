"""``POST /fit`` behind the route: validate, register the model in the store, enqueue its job.

The model's folder is written before its job is enqueued, so a worker always finds its data;
if the queue cannot take the job, the folder is removed again and the client gets 503.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import redis

from models.latent.windows import check_window, window_in_data_units
from models.series import Dataset, SeriesValidationError, parse_dataset
from models.store import ModelStore, new_id, new_record
from worker.protocol import idempotency_key

from .errors import ApiError, invalid_input, queue_unavailable
from .limits import check_series_sizes
from .queueing import enqueue_training, training_queue
from .schemas import FitAccepted, FitRequest
from .series_errors import series_error
from .settings import Settings

# Training stops after the epoch that passes max_seconds; the job timeout must leave room for it.
TIMEOUT_MARGIN_S = 60
# An Idempotency-Key is claimed for this long until its fit is enqueued, then for
# ODECAST_IDEMPOTENCY_TTL_S: an API process killed in between leaves a key naming ids that were
# never created, and a retry with it fits again once the claim lapses, not a day later.
CLAIM_S = 120


def fit(
    body: FitRequest,
    store: ModelStore,
    connection: redis.Redis,
    settings: Settings,
    idempotency: str | None,
) -> FitAccepted:
    dataset = _parse(body, settings)
    config = resolve_config(body, settings, dataset)
    model_id, job_id = new_id("m"), new_id("j")
    if idempotency is not None:
        earlier = _claim(connection, idempotency, body, model_id, job_id, settings)
        if earlier is not None:
            return earlier
    record = new_record(model_id, dataset, config, job_id=job_id, name=body.name)
    try:
        store.create_model(model_id, record, dataset)
    except BaseException:
        # a retry with the same key must fit again, not be told of a model never written
        if idempotency is not None:
            _release(connection, idempotency)
        raise
    try:
        enqueue_training(training_queue(connection, settings), model_id, job_id, settings)
    except redis.RedisError:
        store.delete_model(model_id)
        if idempotency is not None:
            _release(connection, idempotency)
        raise queue_unavailable() from None
    if idempotency is not None:
        _keep(connection, idempotency, settings)
    return accepted(model_id, job_id)


def accepted(model_id: str, job_id: str) -> FitAccepted:
    return FitAccepted(job_id=job_id, model_id=model_id, status_url=f"/jobs/{job_id}")


def resolve_config(body: FitRequest, settings: Settings, dataset: Dataset) -> dict[str, Any]:
    """The full config: the client's settings over the defaults, checked by the dataclasses."""
    from models.latent.model import ModelConfig
    from models.latent.train import Config, TrainingConfig

    model = body.model.model_dump(exclude_none=True)
    if "window" in model:
        try:
            model["window"] = window_in_data_units(model["window"], dataset.time_kind)
            check_window(model["window"], dataset)
        except ValueError as err:
            raise invalid_input("body.model.window", str(err)) from err
    try:
        config = Config(
            ModelConfig(**model),
            TrainingConfig(**body.training.model_dump(exclude_none=True)),
        )
    except (TypeError, ValueError) as err:
        raise invalid_input("body", str(err)) from err
    longest = settings.job_timeout_s - TIMEOUT_MARGIN_S
    if config.training.max_seconds > longest:
        message = (
            f"max_seconds {config.training.max_seconds:g} leaves no room in the job timeout "
            f"(ODECAST_JOB_TIMEOUT_S={settings.job_timeout_s}); use at most {longest}"
        )
        raise invalid_input("body.training.max_seconds", message)
    return config.to_json()


def _parse(body: FitRequest, settings: Settings) -> Dataset:
    check_series_sizes(body.series, settings, "body.series")
    try:
        return parse_dataset([s.model_dump() for s in body.series])
    except SeriesValidationError as err:
        raise series_error(err, "body.series") from err


# -- Idempotency-Key -------------------------------------------------------------------------


def _claim(
    connection: redis.Redis,
    key: str,
    body: FitRequest,
    model_id: str,
    job_id: str,
    settings: Settings,
) -> FitAccepted | None:
    """Remember ``key`` for this request; if it was used before, the answer given then."""
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    entry = json.dumps({"body": fingerprint, "model_id": model_id, "job_id": job_id})
    redis_key = idempotency_key(_digest(key))
    if connection.set(redis_key, entry, nx=True, ex=min(CLAIM_S, settings.idempotency_ttl_s)):
        return None
    raw = connection.get(redis_key)
    earlier = json.loads(raw) if raw else None
    if earlier is None:  # expired between the two calls: claim it again
        return _claim(connection, key, body, model_id, job_id, settings)
    if earlier["body"] != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body; use a new key for a new fit",
            [{"loc": "header.Idempotency-Key", "msg": "already used with another body"}],
        )
    return accepted(earlier["model_id"], earlier["job_id"])


def _keep(connection: redis.Redis, key: str, settings: Settings) -> None:
    """Remember ``key``'s fit for ``idempotency_ttl_s`` now that it is enqueued (if Redis is
    away now, the claim lapses: a retry fits again, the job already queued trains too)."""
    with contextlib.suppress(redis.RedisError):
        connection.expire(idempotency_key(_digest(key)), settings.idempotency_ttl_s)


def _release(connection: redis.Redis, key: str) -> None:
    with contextlib.suppress(redis.RedisError):
        connection.delete(idempotency_key(_digest(key)))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
