"""``/predict`` and ``/predict.png``: a series' values at any times, with intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response

from models.series import Series, TimeKind

from ..batching import PredictionBatcher
from ..deps import BatcherDep, ModelCacheDep, SettingsDep, StoreDep
from ..errors import invalid_input, responses
from ..gate import Turn
from ..limits import check_one_series
from ..model_cache import LoadedModel
from ..predictions import (
    Ask,
    answer,
    check_horizon,
    check_size,
    context_series,
    encoded,
    intervals_wanted,
    load_servable,
    run,
)
from ..predictions import training_series as find_series
from ..schemas import ID_REGEX, PredictionOut, PredictRequest
from ..settings import Settings
from ..timestamps import grid_times, times_from_query, times_from_values

router = APIRouter(tags=["predict"])


@dataclass(frozen=True)
class PredictQuery:
    """The query parameters shared by ``GET /predict`` and ``GET /predict.png``."""

    model_id: str
    series_id: str
    t: list[str] | None
    times: str | None
    start: str | None
    stop: str | None
    num: int | None
    level: list[float] | None
    quantiles: list[float] | None
    n_samples: int | None
    seed: int
    version: int | None


QUERY_PARAMETERS = frozenset(PredictQuery.__dataclass_fields__)
# The lists; the others take one value (a second one had silently won).
REPEATABLE = frozenset({"t", "level", "quantiles"})


async def predict_query(
    request: Request,
    model_id: Annotated[str, Query(pattern=ID_REGEX)],
    series_id: Annotated[str, Query(pattern=ID_REGEX, description="A training series.")],
    t: Annotated[list[str] | None, Query(description="A time; repeat for more.")] = None,
    times: Annotated[str | None, Query(description="Times as one comma-separated list.")] = None,
    start: Annotated[str | None, Query(description="Grid start (with stop and num).")] = None,
    stop: Annotated[str | None, Query(description="Grid stop, included.")] = None,
    num: Annotated[int | None, Query(ge=1, description="Grid size.")] = None,
    level: Annotated[list[float] | None, Query(description="Interval level, 0-100.")] = None,
    quantiles: Annotated[list[float] | None, Query(description="Quantile, 0-1.")] = None,
    n_samples: Annotated[int | None, Query(ge=1, description="Default 100.")] = None,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    version: Annotated[
        int | None, Query(ge=1, description="The model version (default: the serving one).")
    ] = None,
) -> PredictQuery:
    """``async``: it only reads the query, and a plain ``def`` would cost a thread hop."""
    unknown = sorted(set(request.query_params) - QUERY_PARAMETERS)
    if unknown:
        message = f"unknown parameter(s) {', '.join(unknown)}; known: {sorted(QUERY_PARAMETERS)}"
        raise invalid_input(f"query.{unknown[0]}", message)
    repeated = [
        name
        for name in sorted(QUERY_PARAMETERS - REPEATABLE)
        if len(request.query_params.getlist(name)) > 1
    ]
    if repeated:
        message = f"{repeated[0]} given {len(request.query_params.getlist(repeated[0]))} times"
        raise invalid_input(f"query.{repeated[0]}", f"{message}; give it once")
    return PredictQuery(
        model_id, series_id, t, times, start, stop, num, level, quantiles, n_samples, seed, version
    )


QueryDep = Annotated[PredictQuery, Depends(predict_query)]


def _ask(query: PredictQuery, kind: TimeKind, settings: Settings) -> Ask:
    listed = (query.t or []) + (query.times.split(",") if query.times else [])
    grid = (query.start, query.stop, query.num)
    limit = settings.max_predict_times
    if listed and any(v is not None for v in grid):
        raise invalid_input(
            "query", "give times (t= or times=) or a grid (start, stop, num), not both"
        )
    if listed:
        requested = times_from_query([v.strip() for v in listed], kind, "query.t", limit)
    elif query.start is not None and query.stop is not None and query.num is not None:
        requested = grid_times(query.start, query.stop, query.num, kind, limit)
    else:
        raise invalid_input(
            "query", "give times: repeated t=, one times= list, or start, stop and num"
        )
    levels, quantiles = intervals_wanted(query.level, query.quantiles, "query")
    return Ask(
        requested, levels, quantiles, _samples(query.n_samples, settings, "query"), query.seed
    )


def _samples(n_samples: int | None, settings: Settings, where: str) -> int:
    if n_samples is None:
        return settings.default_samples
    if n_samples > settings.max_samples:
        message = f"n_samples {n_samples} is above the limit {settings.max_samples}"
        raise invalid_input(f"{where}.n_samples", message)
    return n_samples


@router.get("/predict", response_model=PredictionOut, responses=responses(404, 409, 422))
def get_predict(
    query: QueryDep,
    store: StoreDep,
    cache: ModelCacheDep,
    settings: SettingsDep,
    batcher: BatcherDep,
) -> Response:
    """Predict a training series at any times (interpolation inside its observed range,
    extrapolation outside)."""
    record, loaded = load_servable(store, cache, query.model_id, query.version)
    kind = record.time_kind
    ask = _ask(query, kind, settings)
    context = find_series(loaded, query.model_id, query.series_id)
    check_size(ask, context.dims, settings.max_prediction_values, "query")
    check_horizon(loaded, context, ask, settings.max_horizon_spans, "query.t")
    return encoded(answer(loaded, query.model_id, context, ask, kind, batcher))


@router.post("/predict", response_model=PredictionOut, responses=responses(404, 409, 413, 422))
def post_predict(
    body: PredictRequest,
    store: StoreDep,
    cache: ModelCacheDep,
    settings: SettingsDep,
    batcher: BatcherDep,
) -> Response:
    """Predict a new series from its own observations (the context the encoder reads)."""
    record, loaded = load_servable(store, cache, body.model_id, body.version, "body.version")
    kind = record.time_kind
    check_one_series(body.series, settings, "body.series")
    context = context_series(body.series, record)
    requested = times_from_values(body.times, kind, "body.times", settings.max_predict_times)
    levels, quantiles = intervals_wanted(body.level, body.quantiles, "body")
    ask = Ask(requested, levels, quantiles, _samples(body.n_samples, settings, "body"), body.seed)
    check_size(ask, context.dims, settings.max_prediction_values, "body")
    check_horizon(loaded, context, ask, settings.max_horizon_spans, "body.times")
    return encoded(answer(loaded, body.model_id, context, ask, kind, batcher))


@router.get(
    "/predict.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **responses(404, 409, 422)},
)
def get_predict_png(
    query: QueryDep,
    store: StoreDep,
    cache: ModelCacheDep,
    settings: SettingsDep,
    batcher: BatcherDep,
) -> Response:
    """The same prediction drawn: observations, mean, bands, and the last observed time."""
    record, loaded = load_servable(store, cache, query.model_id, query.version)
    kind = record.time_kind
    ask = _ask(query, kind, settings)
    context = find_series(loaded, query.model_id, query.series_id)
    check_size(ask, context.dims, settings.max_prediction_values, "query")
    check_horizon(loaded, context, ask, settings.max_horizon_spans, "query.t")
    return Response(_png(loaded, query, context, ask, kind, batcher), media_type="image/png")


def _png(
    loaded: LoadedModel,
    query: PredictQuery,
    context: Series,
    ask: Ask,
    kind: TimeKind,
    batcher: PredictionBatcher,
) -> bytes:
    from ..plotting import Band, render_png

    prediction = run(loaded, context, ask, batcher)
    bands = []
    for level in sorted(ask.levels, reverse=True):
        tail = (1 - level / 100) / 2
        lower, upper = prediction.quantiles[tail], prediction.quantiles[1 - tail]
        bands.append(Band(f"{level:g}%", lower, upper))
    with batcher.gate.turn(Turn.CHART):  # drawing holds the GIL: see service.gate
        return render_png(
            title=f"model {query.model_id} / series {context.id}",
            observed_times=context.times,
            observed_values=context.values,
            times=np.asarray(ask.times),
            mean=prediction.mean,
            bands=bands,
            first_observed=float(context.times[0]),
            last_observed=float(context.times[-1]),
            datetime_axis=kind is TimeKind.DATETIME,
        )
