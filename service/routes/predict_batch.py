"""``POST /predict/batch``: many series of one model (training series and new ones) in one
request, answered from batched solves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response

from models.series import Series
from models.store import ModelRecord

from ..deps import BatcherDep, ModelCacheDep, SettingsDep, StoreDep
from ..errors import invalid_input, responses
from ..limits import check_one_series
from ..model_cache import LoadedModel
from ..predictions import (
    Ask,
    check_horizon,
    check_size,
    context_series,
    encoded,
    intervals_wanted,
    load_servable,
    model_ask,
    not_finite,
    shaped,
    solver_gave_up,
    training_series,
)
from ..schemas import BatchItem, ItemError, PredictBatchRequest, PredictionBatchOut, PredictionOut
from ..settings import Settings
from ..timestamps import times_from_values

if TYPE_CHECKING:
    from models.latent.predict import Prediction

router = APIRouter(tags=["predict"])


@router.post(
    "/predict/batch", response_model=PredictionBatchOut, responses=responses(404, 409, 413, 422)
)
def post_predict_batch(
    body: PredictBatchRequest,
    store: StoreDep,
    cache: ModelCacheDep,
    settings: SettingsDep,
    batcher: BatcherDep,
) -> Response:
    """Predict many series of one model: each item names a training series (``series_id``) or
    sends a new one (``series``), with its times. Bad input anywhere is a 4xx naming the item;
    an item whose solve fails gets null and an entry in ``errors``, the others their answers."""
    _check_sizes(body, settings)
    record, loaded = load_servable(store, cache, body.model_id, body.version, "body.version")
    kind = record.time_kind
    levels, quantiles = intervals_wanted(body.level, body.quantiles, "body")
    n_samples = body.n_samples or settings.default_samples
    if n_samples > settings.max_samples:
        message = f"n_samples {n_samples} is above the limit {settings.max_samples}"
        raise invalid_input("body.n_samples", message)
    contexts, asks = [], []
    for index, item in enumerate(body.items):
        where = f"body.items[{index}]"
        context = _context(item, loaded, body.model_id, record, settings, where)
        times = times_from_values(item.times, kind, f"{where}.times", settings.max_predict_times)
        ask = Ask(times, levels, quantiles, n_samples, body.seed)
        check_size(ask, context.dims, settings.max_prediction_values, where)
        check_horizon(loaded, context, ask, settings.max_horizon_spans, f"{where}.times")
        contexts.append(context)
        asks.append(ask)
    outcomes = batcher.predict_all(
        loaded.trained, [model_ask(c, a) for c, a in zip(contexts, asks, strict=True)]
    )
    predictions: list[PredictionOut | None] = []
    errors = []
    for index, (context, ask, outcome) in enumerate(zip(contexts, asks, outcomes, strict=True)):
        failure = _failure(outcome, ask)
        if failure is not None:
            errors.append(ItemError(index=index, code="prediction_failed", message=failure))
            predictions.append(None)
        else:
            assert not isinstance(outcome, Exception)  # an answer: no failure
            predictions.append(shaped(outcome, body.model_id, context.id, ask, kind, loaded))
    out = PredictionBatchOut(model_id=body.model_id, predictions=predictions, errors=errors)
    return encoded(out)


def _failure(outcome: Prediction | Exception, ask: Ask) -> str | None:
    """Why an item's answer fails alone (its solve gave up, or its values are not finite);
    None for a good answer. Any other error is the request's, raised."""
    from models.ode import SolverError

    if isinstance(outcome, SolverError):
        return solver_gave_up(outcome)
    if isinstance(outcome, Exception):
        raise outcome
    return not_finite(outcome, ask)


def _check_sizes(body: PredictBatchRequest, settings: Settings) -> None:
    if len(body.items) > settings.max_batch_items:
        message = f"{len(body.items)} items; at most {settings.max_batch_items}"
        raise invalid_input("body.items", f"{message} (ODECAST_MAX_BATCH_ITEMS); split the batch")
    total = sum(len(item.times) for item in body.items)
    if total > settings.max_batch_times:
        message = f"{total} times in all; at most {settings.max_batch_times}"
        raise invalid_input("body.items", f"{message} (ODECAST_MAX_BATCH_TIMES); split the batch")
    points = sum(len(item.series.times) for item in body.items if item.series is not None)
    if points > settings.max_points:
        message = f"{points} observations in all; at most {settings.max_points}"
        raise invalid_input("body.items", f"{message} (ODECAST_MAX_POINTS); split the batch")


def _context(
    item: BatchItem,
    loaded: LoadedModel,
    model_id: str,
    record: ModelRecord,
    settings: Settings,
    where: str,
) -> Series:
    """The series an item reads: a training series by id, or the new series it sends."""
    if (item.series_id is None) == (item.series is None):
        message = "give exactly one of series_id (a training series) or series (a new one)"
        raise invalid_input(where, message)
    if item.series_id is not None:
        return training_series(loaded, model_id, item.series_id, f"{where}.series_id")
    assert item.series is not None  # one of the two, checked above
    check_one_series(item.series, settings, f"{where}.series")
    return context_series(item.series, record, f"{where}.series")
