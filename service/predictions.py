"""From a prediction request to its answer: pick the context, ask the model, shape the intervals.

Used by ``GET/POST /predict`` and ``GET /predict.png``; torch loads on the first prediction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
from fastapi import Response
from pydantic import BaseModel

from models.series import Series, SeriesValidationError, TimeKind, parse_dataset
from models.store import CorruptFileError, ModelRecord, ModelStore, Stage, UnknownModelError

from .batching import PredictionBatcher
from .errors import ApiError, invalid_input, not_found
from .model_cache import LoadedModel, ModelCache
from .schemas import MAX_INTERVALS, Interval, KindLabel, PredictionOut, SeriesIn
from .series_errors import series_error
from .timestamps import format_times

if TYPE_CHECKING:
    from models.latent.predict import Ask as ModelAsk
    from models.latent.predict import Prediction

DEFAULT_LEVEL = 80.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ask:
    """What to predict: times as float64 (POSIX s for datetimes) and which intervals."""

    times: np.ndarray
    levels: tuple[float, ...]
    quantiles: tuple[float, ...]
    n_samples: int
    seed: int = 0


def intervals_wanted(
    levels: list[float] | None, quantiles: list[float] | None, where: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The levels and quantiles asked (in ``where``: "query" or "body"); an 80% interval when
    neither is."""
    if levels and quantiles:
        message = "ask for level or quantiles, not both"
        raise invalid_input(f"{where}.level", message)
    if len(levels or quantiles or ()) > MAX_INTERVALS:
        message = f"at most {MAX_INTERVALS} levels or quantiles per request"
        raise invalid_input(f"{where}.level" if levels else f"{where}.quantiles", message)
    for level in levels or ():
        if not 0 < level < 100:
            message = f"level {level} must lie strictly between 0 and 100"
            raise invalid_input(f"{where}.level", message)
    for q in quantiles or ():
        if not 0 <= q <= 1:
            message = f"quantile {q} must lie between 0 and 1"
            raise invalid_input(f"{where}.quantiles", message)
    if quantiles:
        return (), tuple(dict.fromkeys(quantiles))
    return tuple(dict.fromkeys(levels or [DEFAULT_LEVEL])), ()


def load_servable(
    store: ModelStore,
    cache: ModelCache,
    model_id: str,
    version: int | None = None,
    where: str = "query.version",
) -> tuple[ModelRecord, LoadedModel]:
    """The model's record and its loaded version ``version`` (None: the serving one); 404 if
    either is unknown, 409 if it has nothing servable yet."""
    from models.checkpoint import CheckpointError

    try:
        record = store.record(model_id)
    except UnknownModelError:
        raise not_found("model", model_id) from None
    except CorruptFileError as err:
        raise _unreadable(model_id, err) from err
    entry = record.version_record(record.version if version is None else version)
    if entry is None:
        known = [v.version for v in record.versions] or [record.version]
        message = f"model {model_id!r} has no version {version}; it has {known}"
        raise ApiError(404, "not_found", message, [{"loc": where, "msg": message}])
    try:
        loaded = cache.get(
            model_id, entry.checkpoint_version, entry.checkpoint_manifest, entry.version
        )
    except FileNotFoundError:
        raise ApiError(
            409,
            "model_not_ready",
            f"model {model_id!r} (version {entry.version}) is {entry.status} and has nothing "
            f"to serve yet; follow its job at /jobs/{entry.job_id} and ask again once it "
            f"predicts (stage {Stage.PROVISIONAL} or {Stage.FINAL})",
        ) from None
    except UnknownModelError:  # deleted meanwhile
        raise not_found("model", model_id) from None
    except (CheckpointError, CorruptFileError, KeyError, ValueError) as err:
        raise _unreadable(model_id, err) from err
    return record, loaded


def _unreadable(model_id: str, error: Exception) -> ApiError:
    log.error("model %s cannot be served: %s", model_id, error)  # paths stay in the log
    return ApiError(
        409,
        "model_unreadable",
        f"model {model_id!r}: its stored files are damaged or incomplete and fail their "
        "checks; delete it and fit again (the server's log names the file)",
    )


def training_series(
    loaded: LoadedModel, model_id: str, series_id: str, where: str | None = None
) -> Series:
    """The training series ``series_id`` (asked at ``where``, if in a body); 404 if none."""
    series = loaded.series.get(series_id)
    if series is None:
        message = (
            f"model {model_id!r} was not trained on a series {series_id!r}; "
            "to predict for a new series, send it (POST /predict)"
        )
        if where is None:
            raise ApiError(404, "not_found", message)
        raise ApiError(404, "not_found", f"{where}: {message}", [{"loc": where, "msg": message}])
    return series


def context_series(raw: SeriesIn, record: ModelRecord, where: str = "body.series") -> Series:
    """A series sent to be predicted (found at ``where``), validated like training data and
    checked against the model's dimensions and kind of time."""
    try:
        dataset = parse_dataset([raw.model_dump()])
    except SeriesValidationError as err:
        raise series_error(err, where) from err
    if dataset.dims != record.dims:
        message = f"the model has {record.dims} dimension(s), this series {dataset.dims}"
        raise invalid_input(f"{where}.values", message)
    if dataset.time_kind is not record.time_kind:
        message = f"the model was trained on {record.time_kind} times, not {dataset.time_kind}"
        raise invalid_input(f"{where}.times", message)
    return dataset.series[0]


def answer(
    loaded: LoadedModel,
    model_id: str,
    context: Series,
    ask: Ask,
    kind: TimeKind,
    batcher: PredictionBatcher,
) -> PredictionOut:
    """Run the model and shape ``PredictionOut``."""
    prediction = run(loaded, context, ask, batcher)
    return shaped(prediction, model_id, context.id, ask, kind, loaded)


def encoded(body: BaseModel) -> Response:
    """``body`` (already validated: it was built as the response model) as the JSON response.

    FastAPI validates what a plain ``def`` route returns again, in its thread pool: one more
    thread hop per prediction (``py-spy`` under ``bench/serving.py``). A Response passes as is;
    the route keeps its ``response_model`` for the OpenAPI schema."""
    return Response(body.model_dump_json(), media_type="application/json")


def shaped(
    prediction: Prediction,
    model_id: str,
    series_id: str,
    ask: Ask,
    kind: TimeKind,
    loaded: LoadedModel,
) -> PredictionOut:
    """The response body of one prediction: the asked intervals and quantiles, times in the
    model's kind, and the version and stage of the model that answered."""
    intervals = {
        _label(level): Interval(
            lower=prediction.quantiles[lower].tolist(), upper=prediction.quantiles[upper].tolist()
        )
        for level, (lower, upper) in zip(ask.levels, map(_level_quantiles, ask.levels), strict=True)
    }
    return PredictionOut(
        model_id=model_id,
        series_id=series_id,
        times=format_times(ask.times, kind),
        mean=prediction.mean.tolist(),
        intervals=intervals,
        quantiles={_label(q): prediction.quantiles[q].tolist() for q in ask.quantiles},
        kind=cast("list[KindLabel]", [str(k) for k in prediction.kinds]),
        stage=loaded.trained.stage,
        version=loaded.version,
    )


def run(loaded: LoadedModel, context: Series, ask: Ask, batcher: PredictionBatcher) -> Prediction:
    """Predict, through the batcher: concurrent predictions of one model share one solve, and
    run one batch at a time per process (threads interleaving torch ops this small cost about 3x
    the CPU per request, in ``bench/serving.py``)."""
    from models.ode import SolverError

    try:
        prediction = batcher.predict(loaded.trained, model_ask(context, ask))
    except SolverError as err:
        raise ApiError(422, "prediction_failed", solver_gave_up(err)) from err
    failure = not_finite(prediction, ask)
    if failure is not None:
        raise ApiError(422, "prediction_failed", failure)
    return prediction


def not_finite(prediction: Prediction, ask: Ask) -> str | None:
    """What to tell the client when the answer holds a value that is not a finite number (a
    model whose dynamics blow up there), instead of sending it as null; None if all are."""
    finite = np.isfinite(prediction.mean).all(axis=1)
    for values in prediction.quantiles.values():
        finite &= np.isfinite(values).all(axis=1)
    if finite.all():
        return None
    index = int(np.flatnonzero(~finite)[0])
    return (
        f"the model's answer at times[{index}] is not a finite number (its dynamics blow up "
        "there); ask for nearer times, or fit the model again"
    )


def model_ask(context: Series, ask: Ask) -> ModelAsk:
    """What the model is asked: the quantiles behind the levels and those asked directly."""
    from models.latent.predict import Ask as ModelAsk

    wanted = [q for level in ask.levels for q in _level_quantiles(level)] + list(ask.quantiles)
    return ModelAsk(context, ask.times, ask.n_samples, tuple(dict.fromkeys(wanted)), ask.seed)


def solver_gave_up(error: Exception) -> str:
    return f"the model's solver gave up on these times: {error}; ask for nearer times"


def _level_quantiles(level: float) -> tuple[float, float]:
    tail = (1 - level / 100) / 2
    return tail, 1 - tail


def check_size(ask: Ask, dims: int, limit: int, where: str) -> None:
    """422 ``too_large`` when answering ``ask`` would hold more than ``limit`` sampled values
    (n_samples x times x dimensions): the memory of one prediction."""
    values = ask.n_samples * len(ask.times) * dims
    if values > limit:
        message = (
            f"{ask.n_samples} samples x {len(ask.times)} times x {dims} dimension(s) = {values:,} "
            f"sampled values; at most {limit:,} (ODECAST_MAX_PREDICTION_VALUES): ask for fewer "
            "times or samples"
        )
        raise ApiError(422, "too_large", message, [{"loc": where, "msg": message}])


def check_horizon(
    loaded: LoadedModel, context: Series, ask: Ask, max_spans: float, where: str
) -> None:
    """422 for a time farther from the context than ``max_spans`` of its span (or, for a short
    context, of the training series' median span): far beyond the data a latent ODE says
    nothing useful, and its solve grows with the distance. For a windowed model (long series)
    the unit is the window, not the whole series: it forecasts from the last window."""
    trained = loaded.trained
    typical = trained.normaliser.time_scale * trained.config.model.model_span
    whole = float(context.times[-1] - context.times[0])
    span = typical if trained.normaliser.windowed else max(whole, typical)
    lowest, highest = context.times[0] - max_spans * span, context.times[-1] + max_spans * span
    outside = np.flatnonzero((ask.times < lowest) | (ask.times > highest))
    if outside.size:
        index = int(outside[0])
        message = (
            f"time {ask.times[index]:g} (index {index}) is more than {max_spans:g} spans "
            f"({span:g} time units each) from the context's observations "
            f"[{context.times[0]:g}, {context.times[-1]:g}]; ask for nearer times "
            "(ODECAST_MAX_HORIZON_SPANS)"
        )
        raise ApiError(
            422, "beyond_horizon", message, [{"loc": f"{where}[{index}]", "msg": message}]
        )


def _label(value: float) -> str:
    """A level's or quantile's key in an answer: short ("80", "0.1"), exact wherever the short
    form would name another number (50.0000000000001 had shared "50" with 50, one answer lost)."""
    value += 0.0  # -0.0 is 0.0, not "-0"
    short = format(value, ".12g")
    return short if float(short) == value else repr(value)
