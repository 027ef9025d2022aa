"""``/models``: the registry of trained (and training) models."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import Annotated

import redis
from fastapi import APIRouter, Path, Response
from pydantic import ValidationError

from models.store import CorruptFileError, ModelRecord, UnknownModelError

from .. import refitting
from ..deps import ModelCacheDep, RedisDep, SettingsDep, StoreDep
from ..errors import ApiError, not_found, responses
from ..predictions import encoded, load_servable, training_series
from ..queueing import fetch_job, request_cancel, settled
from ..schemas import (
    ID_REGEX,
    BacktestOut,
    ModelList,
    ModelOut,
    ObservedSeries,
    RefitAccepted,
    RefitRequest,
)
from ..timestamps import format_times

log = logging.getLogger(__name__)

router = APIRouter(tags=["models"])

ModelId = Annotated[str, Path(pattern=ID_REGEX, description="As returned by POST /fit.")]
SeriesId = Annotated[str, Path(pattern=ID_REGEX, description="A series of its training set.")]


def model_out(record: ModelRecord) -> ModelOut:
    """The record as the API shows it; CorruptFileError if it is not a model's record."""
    data = record.to_json()
    try:
        return ModelOut(**{k: data[k] for k in ModelOut.model_fields if k in data})
    except ValidationError as err:
        raise CorruptFileError(f"record.json of {record.model_id!r}: {err}") from err


@router.get("/models", response_model=ModelList)
def list_models(store: StoreDep, connection: RedisDep) -> ModelList:
    """Every model in the store, oldest first (the store, not Redis, is the registry); a model
    whose record cannot be read is left out (GET /models/{id} says why)."""
    shown = []
    for record in store.records():
        with contextlib.suppress(CorruptFileError):
            shown.append(model_out(settled(record, store, connection)))
    return ModelList(models=shown)


@contextlib.contextmanager
def _readable(model_id: str) -> Iterator[None]:
    """404 for an unknown model, 409 for a record that cannot be read, inside the block."""
    try:
        yield
    except UnknownModelError:
        raise not_found("model", model_id) from None
    except CorruptFileError as err:
        log.error("model %s: %s", model_id, err)
        message = f"model {model_id!r}: its record is damaged; delete it and fit again"
        raise ApiError(409, "model_unreadable", message) from err


@router.get("/models/{model_id}", response_model=ModelOut, responses=responses(404, 422))
def get_model(model_id: ModelId, store: StoreDep, connection: RedisDep) -> ModelOut:
    with _readable(model_id):
        return model_out(settled(store.record(model_id), store, connection))


@router.post(
    "/models/{model_id}/refit",
    status_code=202,
    response_model=RefitAccepted,
    responses=responses(404, 409, 413, 422, 503),
    summary="Add observations or series to a trained model and train its next version",
)
def post_refit(
    model_id: ModelId,
    body: RefitRequest,
    response: Response,
    store: StoreDep,
    connection: RedisDep,
    settings: SettingsDep,
) -> RefitAccepted:
    """The data set is the serving version's plus the new observations; training starts from
    its weights and optimizer state; the serving version answers until the new one is final."""
    with _readable(model_id):
        result = refitting.refit(model_id, body, store, connection, settings)
    response.headers["Location"] = result.status_url
    return result


@router.get(
    "/models/{model_id}/backtest", response_model=BacktestOut, responses=responses(404, 409, 422)
)
def get_backtest(model_id: ModelId, store: StoreDep) -> BacktestOut:
    """The served forecast's backtest errors per origin and lead time beside the naive methods';
    409 while the model has none (still training, or trained before backtests were kept)."""
    with _readable(model_id):
        record = store.record(model_id)
    table = (record.skill or {}).get("backtest")
    if not isinstance(table, dict) or not isinstance(table.get("dims"), list):
        message = (
            f"model {model_id!r} has no backtest: it is {record.status}, or was trained before "
            "backtests were kept (fit it again to get one)"
        )
        raise ApiError(409, "no_backtest", message)
    return BacktestOut(model_id=model_id, dims=table["dims"])


@router.get(
    "/models/{model_id}/series/{series_id}",
    response_model=ObservedSeries,
    responses=responses(404, 409, 422),
)
def get_series(
    model_id: ModelId, series_id: SeriesId, store: StoreDep, cache: ModelCacheDep
) -> Response:
    """A training series' observations, sorted, as the model reads them (to draw beside its
    predictions); 409 while the model has no trained weights."""
    record, loaded = load_servable(store, cache, model_id)
    series = training_series(loaded, model_id, series_id)
    values = [[None if math.isnan(v) else v for v in row] for row in series.values.tolist()]
    times = format_times(series.times, record.time_kind)
    observed = ObservedSeries(model_id=model_id, series_id=series_id, times=times, values=values)
    return encoded(observed)


@router.delete("/models/{model_id}", status_code=204, responses=responses(404, 422))
def delete_model(
    model_id: ModelId,
    store: StoreDep,
    cache: ModelCacheDep,
    connection: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Remove the model, every version and their files; a job still training it (its first
    fit, or a refit) is cancelled."""
    try:
        record = store.record(model_id)
    except UnknownModelError:
        # a delete cut short after the record went (an object store's 503) left the rest:
        # the retry, answered 404, sweeps it
        store.discard_remains(model_id)
        raise not_found("model", model_id) from None
    except CorruptFileError:
        record = None
    job_ids = [] if record is None else [record.job_id]
    if record is not None and record.pending_version is not None:
        pending = record.version_record(record.pending_version)
        job_ids.append(None if pending is None else pending.job_id)
    for job_id in job_ids:
        if not isinstance(job_id, str):
            continue
        # A worker also stops on its own once the folder is gone; without Redis, that suffices.
        with contextlib.suppress(redis.RedisError):
            job = fetch_job(connection, job_id)
            if job is not None:
                request_cancel(connection, job, settings)
    if not store.delete_model(model_id):
        raise not_found("model", model_id)
    cache.forget(model_id)
    return Response(status_code=204)
