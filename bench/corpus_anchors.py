"""The reference methods ("anchors") of the development corpus (``bench/corpus.py``), run on
exactly the points odecast is given and asked about.

**Forecasts of a single series** (``forecast_anchors``): a method reads the training rows (a mask
over the series' rows, some of them hidden) and answers at the rows ahead of the origin, as a
``quality_scores.Forecast`` of shape [H, 1].

- ``last_value``: the last training value, repeated (``models.baselines.last_value``).
- ``drift``: the line through the first and the last training points, continued, on the series'
  times (``models.baselines.drift``, Hyndman's drift method).
- ``seasonal_naive`` (only for a series with a season; absent from the answer otherwise): the
  value one season earlier on the grid, whole seasons back until it falls at or before the last
  training position. Where that grid position holds no training point (dropped or hidden), the
  grid is first filled by linear interpolation over grid position between the training points
  around it (``models.baselines.seasonal_naive`` on grid positions); a position before the first
  training point takes the first training value.
- ``auto_ets``: statsforecast's ``AutoETS``, exponential smoothing in state-space form chosen by
  AICc over error, trend (damped or not) and season types (Hyndman et al. 2002, "A state space
  framework for automatic forecasting using exponential smoothing methods"; Hyndman et al. 2008,
  "Forecasting with Exponential Smoothing: The State Space Approach").
- ``auto_theta``: statsforecast's ``AutoTheta``, the best by in-sample MSE of the standard,
  optimised and dynamic Theta models on the seasonally adjusted series (Assimakopoulos &
  Nikolopoulos 2000, "The theta model: a decomposition approach to forecasting"; Fiorucci et al.
  2016, "Models for optimising the theta method and their relationship to state space models").
- ``auto_arima``: statsforecast's ``AutoARIMA``, the stepwise search of (seasonal) ARIMA orders
  of R's ``forecast::auto.arima`` (Hyndman & Khandakar 2008, "Automatic time series forecasting:
  the forecast package for R").
- ``prophet``: Prophet with its defaults (Taylor & Letham 2018, "Forecasting at scale"), fitted
  on the training rows' dates and answering at the rows ahead, through ``prophet_reference``: the
  point forecast is ``yhat``, the quantiles those of its 1,000 predictive samples. Dates: POSIX
  seconds as they are for a datetime series; for numeric times of yearly data, January 1 of that
  year (1871.0 is 1871-01-01; a fraction of a year adds that fraction of 365.25 days); other
  numeric times count one unit as one day from 2000-01-01 (``prophet_reference.unit_days``).

The three statsforecast methods use ``season_length = series.season or 1``, and 1 when the
training rows number fewer than two seasons. Their quantiles come from their prediction intervals
at ``INTERVAL_LEVELS`` (10%, 20%, ..., 90%): the lower bound of the L% interval is the quantile
(1 - L/100)/2 and the upper bound the quantile (1 + L/100)/2, which gives 0.05..0.45 and
0.55..0.95; the 0.5 quantile is the point forecast (the median of the normal predictive
distributions of ETS and ARIMA). The quantiles of every method are sorted across levels, which
only matters where sampled intervals (Theta, Prophet) cross the point forecast at the median.

**Gaps on a regular-grid tool**: statsforecast needs a regular series, so it is given what a user
of a regular-grid tool would do with gaps: the grid positions of the training rows
(``series.index[train]``), the full grid from the first to the last of them, every empty position
(a dropped point or a hidden row) filled by linear interpolation over grid position; it forecasts
``h = max(index[ahead]) - last training position`` steps and the answer at each row ahead is the
step at its grid position. Prophet and the two naive methods on times read the training rows as
they are.

**Time limit**: each statsforecast method and Prophet runs in a child process (multiprocessing's
"fork" context: nothing is pickled on the way in, the answer comes back over a pipe) with one
BLAS/OpenMP thread (``threadpoolctl``; statsforecast 2.x is C++ and imports no numba). A child
that has not answered within ``ANCHOR_SECONDS`` (one limit per method) is killed together with
its process group (Prophet's CmdStan included) and the method answers None. A method that raises,
crashes or answers non-finite values answers None too; each None comes with one line on stderr
saying why.

**Cache** (``AnchorCache``): the answers of the fitted methods (statsforecast, Prophet) are kept
as JSON files (never pickles) under ``bench/.corpus-cache/anchors/``, one per answer, named by a
SHA-256 of the method, the series (its name, season, frequency, datetime flag and the bytes of its
times, index and values), the training mask, the rows ahead, ``CACHE_FORMAT`` and the installed
versions of statsforecast, prophet, scikit-learn, scipy and numpy. A failure is cached too (with
its reason), so an AutoARIMA past its limit is not tried again every run; a time-out recorded
under a shorter limit than the present one is tried again. The naive methods take microseconds
and are not cached.

**Interpolation** (``interpolation_anchors``) of one curve's dimensions at query times, each
dimension from its observed entries, times rescaled to [0, 1] over the training span (they may be
POSIX seconds):

- ``linear``: ``np.interp``, straight lines between neighbours, flat beyond the ends;
- ``pchip``: the monotone piecewise cubic Hermite interpolant (Fritsch & Carlson 1980, "Monotone
  piecewise cubic interpolation"), ``scipy.interpolate.PchipInterpolator``, flat beyond the ends
  (the end values, not the cubic's extrapolation);
- ``gaussian_process``: the posterior mean of a Gaussian process (Rasmussen & Williams 2006,
  "Gaussian Processes for Machine Learning"), scikit-learn's ``GaussianProcessRegressor`` with the
  kernel ConstantKernel * RBF + WhiteKernel, ``normalize_y=True``, hyperparameters by maximum
  marginal likelihood with ``GP_RESTARTS`` restarts from ``GP_SEED``. Past ``GP_MAX_POINTS``
  observed entries, it is fitted on the ``GP_MAX_POINTS`` nearest in time to any query, so its
  cost stays bounded (the points far from every query barely move the answer).

A dimension with one observed entry answers that value everywhere; with none, NaN.

**Populations of short curves**: ``mean_curve`` is the average at each time of the other curves,
each linearly interpolated there (only curves whose observed range covers that time count); where
no curve covers a time, the average of the curve ends nearest to it in time. ``mean_shape`` is
that mean curve plus the least-squares line through this curve's residuals from it at its own
observed points (a constant shift with one point; the mean curve alone with none).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import prophet_reference
from corpus_data import Frequency, SingleSeries
from quality_scores import QUANTILE_LEVELS, Forecast

from models.baselines import drift, last_value, seasonal_naive

ANCHOR_SECONDS = 60.0  # wall-clock limit of one statsforecast or Prophet fit and forecast
INTERVAL_LEVELS: tuple[int, ...] = tuple(range(10, 100, 10))  # statsforecast intervals (%)
MIN_SEASONS = 2  # fewer training rows than this many seasons: statsforecast fits no season
GP_MAX_POINTS = 500  # the Gaussian process is fitted on at most this many points a dimension
GP_RESTARTS = 2  # extra random starts of the GP's hyperparameter optimiser
GP_SEED = 0  # the random state of those starts
GP_LENGTH_BOUNDS = (1e-4, 1e1)  # the RBF length scale, in training spans
GP_NOISE_BOUNDS = (1e-8, 1e0)  # the white noise, in variances of the normalised values
CACHE_FOLDER = Path(__file__).resolve().parent / ".corpus-cache" / "anchors"  # default cache
CACHE_FORMAT = 1  # part of every cache key: raise it when an anchor's computation changes
CACHED_PACKAGES = ("statsforecast", "prophet", "scikit-learn", "scipy", "numpy")  # in the key
KILL_GRACE_SECONDS = 5.0  # a child that answered is given this long to exit before it is killed
REASON_CHARS = 300  # a failure's reason is cut to this many characters (one stderr line)

NAIVE_ANCHORS: tuple[str, ...] = ("last_value", "drift", "seasonal_naive")
STATSFORECAST_ANCHORS: tuple[str, ...] = ("auto_ets", "auto_theta", "auto_arima")
PROPHET = "prophet"
FORECAST_ANCHORS: tuple[str, ...] = (*NAIVE_ANCHORS, *STATSFORECAST_ANCHORS, PROPHET)
INTERPOLATION_ANCHORS: tuple[str, ...] = ("linear", "pchip", "gaussian_process")

# quantile level -> (interval level in percent, which bound); 0.5 is the point forecast
_BOUNDS: dict[float, tuple[int, str]] = {
    **{round((1 - level / 100) / 2, 2): (level, "lo") for level in INTERVAL_LEVELS},
    **{round((1 + level / 100) / 2, 2): (level, "hi") for level in INTERVAL_LEVELS},
}
assert set(_BOUNDS) | {0.5} == set(QUANTILE_LEVELS), "INTERVAL_LEVELS must give QUANTILE_LEVELS"

T = TypeVar("T")


class AnchorFailure(Exception):
    """Why a method gave no forecast (an error, a crash, or its time limit)."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


@dataclass(frozen=True)
class AnchorOutcome:
    """One method's answer on one split.

    Attributes:
        forecast: the answer, or None when the method failed.
        failure: why it failed ("" when it did not).
        timed_out: whether it failed by running past its limit.
        seconds: the wall time it took when computed (a cached outcome keeps the original).
        limit: the time limit it ran under (seconds).
        cached: whether it was read from the cache.
    """

    forecast: Forecast | None
    failure: str = ""
    timed_out: bool = False
    seconds: float = 0.0
    limit: float = ANCHOR_SECONDS
    cached: bool = False


# ----------------------------------------------------------------------------- the cache


class AnchorCache:
    """Anchor forecasts as JSON files in ``folder``, one per (method, series, split)."""

    def __init__(self, folder: Path | str = CACHE_FOLDER) -> None:
        self.folder = Path(folder)

    def key(self, method: str, series: SingleSeries, train: np.ndarray, ahead: np.ndarray) -> str:
        """The SHA-256 (hex) naming ``method``'s answer on this series and split."""
        digest = hashlib.sha256()

        def part(label: str, data: bytes) -> None:
            digest.update(f"{label}:{len(data)}:".encode())
            digest.update(data)

        part("format", str(CACHE_FORMAT).encode())
        part("method", method.encode())
        part("name", series.name.encode())
        part("season", str(series.season).encode())
        part("frequency", str(series.frequency).encode())
        part("datetime", str(series.datetime).encode())
        part("times", np.ascontiguousarray(series.times, dtype="<f8").tobytes())
        part("index", np.ascontiguousarray(series.index, dtype="<i8").tobytes())
        part("values", np.ascontiguousarray(series.values, dtype="<f8").tobytes())
        part("train", np.ascontiguousarray(train, dtype=np.bool_).tobytes())
        part("ahead", np.ascontiguousarray(ahead, dtype="<i8").tobytes())
        part("versions", json.dumps(_versions(), sort_keys=True).encode())
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> AnchorOutcome | None:
        """The cached outcome under ``key``, or None when there is none (or it is unreadable)."""
        try:
            entry = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        try:
            forecast = None
            if entry["mean"] is not None:
                quantiles = {float(q): _column(v) for q, v in entry["quantiles"].items()}
                forecast = Forecast(_column(entry["mean"]), quantiles)
            return AnchorOutcome(
                forecast,
                failure=str(entry["failure"]),
                timed_out=bool(entry["timed_out"]),
                seconds=float(entry["seconds"]),
                limit=float(entry["limit"]),
                cached=True,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, method: str, series: SingleSeries, outcome: AnchorOutcome) -> None:
        """Write ``outcome`` under ``key`` (atomically: a reader sees all of it or nothing)."""
        forecast = outcome.forecast
        entry: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "method": method,
            "series": series.name,
            "failure": outcome.failure,
            "timed_out": outcome.timed_out,
            "seconds": outcome.seconds,
            "limit": outcome.limit,
            "mean": None if forecast is None else forecast.mean[:, 0].tolist(),
            "quantiles": None
            if forecast is None
            else {str(q): v[:, 0].tolist() for q, v in forecast.quantiles.items()},
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(entry, file, allow_nan=False)
            os.replace(temporary, self.path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _column(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


@functools.cache
def _versions() -> dict[str, str]:
    """The installed versions of ``CACHED_PACKAGES`` ("absent" for a missing one)."""
    found = {}
    for package in CACHED_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


# ----------------------------------------------------------------------------- forecasts


def forecast_anchors(
    series: SingleSeries,
    train: np.ndarray,
    ahead: np.ndarray,
    *,
    cache: AnchorCache | None = None,
    methods: Sequence[str] = FORECAST_ANCHORS,
    seconds: float = ANCHOR_SECONDS,
) -> dict[str, Forecast | None]:
    """Each method's forecast at the rows ``ahead`` from the rows ``train`` of ``series``.

    Args:
        series: the series.
        train: bool [T], the rows a method may read (all before the first row ahead).
        ahead: int [H], the rows to forecast, after the last training row.
        cache: where the fitted methods' answers are kept (None: always computed).
        methods: which of ``FORECAST_ANCHORS``.
        seconds: the time limit of each fitted method (``ANCHOR_SECONDS``).

    Returns:
        method -> its ``Forecast`` (mean [H, 1]; quantiles [H, 1] at every ``QUANTILE_LEVELS``
        level for the fitted methods, none for the naive ones), or None when it failed (the
        reason goes to stderr). ``seasonal_naive`` is left out for a series without a season.
    """
    answers: dict[str, Forecast | None] = {}
    for method in methods:
        if method == "seasonal_naive" and series.season is None:
            continue
        outcome = forecast_anchor(series, train, ahead, method, cache=cache, seconds=seconds)
        if outcome.forecast is None:
            cached = " (cached)" if outcome.cached else ""
            line = f"corpus_anchors: {series.name}: {method}{cached}: {outcome.failure}"
            print(line, file=sys.stderr, flush=True)
        answers[method] = outcome.forecast
    return answers


def forecast_anchor(
    series: SingleSeries,
    train: np.ndarray,
    ahead: np.ndarray,
    method: str,
    *,
    cache: AnchorCache | None = None,
    seconds: float = ANCHOR_SECONDS,
) -> AnchorOutcome:
    """One method's outcome (``forecast_anchors``' arguments), with its time and cache status.

    A cached outcome is returned as it is, except a time-out recorded under a shorter limit than
    ``seconds``, which is computed again.
    """
    train, ahead = _checked_split(series, train, ahead)
    if method not in FORECAST_ANCHORS:
        raise ValueError(f"unknown forecast anchor {method!r}; known: {FORECAST_ANCHORS}")
    if method in NAIVE_ANCHORS:
        started = time.perf_counter()
        forecast = _naive(method, series, train, ahead)
        return AnchorOutcome(forecast, seconds=time.perf_counter() - started, limit=seconds)
    key = cache.key(method, series, train, ahead) if cache is not None else ""
    if cache is not None:
        hit = cache.get(key)
        if hit is not None and not (hit.timed_out and hit.limit < seconds):
            return hit
    started = time.perf_counter()
    try:
        if method == PROPHET:
            forecast = _prophet(series, train, ahead, seconds)
        else:
            forecast = _statsforecast(method, series, train, ahead, seconds)
        _check_finite(forecast)
        outcome = AnchorOutcome(forecast, seconds=time.perf_counter() - started, limit=seconds)
    except AnchorFailure as failure:
        elapsed = time.perf_counter() - started
        outcome = AnchorOutcome(
            None, failure.reason, failure.timed_out, seconds=elapsed, limit=seconds
        )
    if cache is not None:
        cache.put(key, method, series, outcome)
    return outcome


def _checked_split(
    series: SingleSeries, train: np.ndarray, ahead: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    train = np.asarray(train, dtype=np.bool_)
    ahead = np.asarray(ahead, dtype=np.int64)
    if train.shape != series.values.shape:
        raise ValueError(f"{series.name}: train must be a bool mask over the series' rows")
    if not train.any():
        raise ValueError(f"{series.name}: no training row")
    if ahead.ndim != 1 or len(ahead) == 0:
        raise ValueError(f"{series.name}: ahead must be a non-empty 1-D array of rows")
    if ahead.min() <= np.flatnonzero(train)[-1] or ahead.max() >= len(train):
        raise ValueError(f"{series.name}: the rows ahead must follow the last training row")
    return train, ahead


def _naive(method: str, series: SingleSeries, train: np.ndarray, ahead: np.ndarray) -> Forecast:
    """A point forecast of ``last_value``, ``drift`` or ``seasonal_naive`` (module docstring)."""
    values = series.values[train]
    if method == "seasonal_naive":
        assert series.season is not None
        positions = series.index[train].astype(np.float64)
        query = series.index[ahead].astype(np.float64)
        mean = seasonal_naive(positions, values, query, float(series.season))
    else:
        baseline = last_value if method == "last_value" else drift
        mean = baseline(series.times[train], values, series.times[ahead])
    return Forecast(np.asarray(mean, dtype=np.float64)[:, None])


def _check_finite(forecast: Forecast) -> None:
    arrays = [forecast.mean, *forecast.quantiles.values()]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise AnchorFailure("non-finite forecast")


def regular_grid(series: SingleSeries, train: np.ndarray) -> tuple[int, np.ndarray]:
    """The training rows on their full grid: (first position, values [last - first + 1]), empty
    positions filled by linear interpolation over grid position (module docstring)."""
    positions = series.index[train]
    grid = np.arange(positions[0], positions[-1] + 1)
    return int(positions[0]), np.interp(grid, positions, series.values[train])


def statsforecast_season(series: SingleSeries, train: np.ndarray) -> int:
    """The season length statsforecast is given: the series' season, or 1 without one or with
    fewer than ``MIN_SEASONS`` seasons of training rows."""
    season = series.season or 1
    return season if int(np.sum(train)) >= MIN_SEASONS * season else 1


def _statsforecast(
    method: str, series: SingleSeries, train: np.ndarray, ahead: np.ndarray, seconds: float
) -> Forecast:
    first, y = regular_grid(series, train)
    last = first + len(y) - 1
    steps = series.index[ahead] - last - 1  # [H], 0 for the first grid step after the origin
    h = int(steps.max()) + 1
    season = statsforecast_season(series, train)
    _import_statsforecast()  # in this process, once: every child inherits it
    answer = _limited(lambda: _run_statsforecast(method, y, h, season), seconds)
    mean = answer["mean"][steps]
    quantiles = {0.5: mean}
    for q, (level, bound) in _BOUNDS.items():
        quantiles[q] = answer[f"{bound}-{level}"][steps]
    return _sorted_forecast(mean, quantiles)


def _run_statsforecast(method: str, y: np.ndarray, h: int, season: int) -> dict[str, np.ndarray]:
    """statsforecast's model's ``forecast`` (no pandas wrapper): mean and lo-/hi-L arrays [h]."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    model = {"auto_ets": AutoETS, "auto_theta": AutoTheta, "auto_arima": AutoARIMA}[method]
    answer = model(season_length=season).forecast(y=y, h=h, level=list(INTERVAL_LEVELS))
    # AutoARIMA's bounds are pandas Series, AutoTheta's float32 on a constant series
    return {name: np.asarray(v, dtype=np.float64) for name, v in answer.items()}


def _sorted_forecast(mean: np.ndarray, quantiles: Mapping[float, np.ndarray]) -> Forecast:
    stacked = np.sort(np.stack([quantiles[q] for q in QUANTILE_LEVELS]), axis=0)  # [L, H]
    return Forecast(
        mean[:, None].copy(), {q: stacked[i][:, None] for i, q in enumerate(QUANTILE_LEVELS)}
    )


@functools.cache
def _import_statsforecast() -> None:
    import statsforecast.models  # noqa: F401  (2 s to import: once, before any fork)


def prophet_dates(series: SingleSeries) -> prophet_reference.Dates:
    """The map from ``series``' times to the dates Prophet is given (module docstring)."""
    if series.datetime:
        return lambda times: pd.DatetimeIndex(pd.to_datetime(times, unit="s"))
    if series.frequency == Frequency.YEARLY:
        return _year_dates
    return prophet_reference.unit_days


def _year_dates(times: np.ndarray) -> pd.DatetimeIndex:
    """Numeric years as dates: January 1 of the year, plus its fraction of 365.25 days."""
    years = np.floor(times).astype(np.int64)
    starts = pd.to_datetime(pd.DataFrame({"year": years, "month": 1, "day": 1}))
    return pd.DatetimeIndex(starts + pd.to_timedelta((times - years) * 365.25, unit="D"))


def _prophet(
    series: SingleSeries, train: np.ndarray, ahead: np.ndarray, seconds: float
) -> Forecast:
    missing = prophet_reference.missing_reason()  # imports Prophet here, once, before the fork
    if missing is not None:
        raise AnchorFailure(f"Prophet is not available: {missing}")
    dates = prophet_dates(series)

    def run() -> Forecast:
        model = prophet_reference.fit(series.times[train], series.values[train], dates)
        return prophet_reference.forecast(model, series.times[ahead], dates)

    answer = _limited(run, seconds)
    return _sorted_forecast(answer.mean[:, 0], {q: v[:, 0] for q, v in answer.quantiles.items()})


# ----------------------------------------------------------------------------- time limit


def _limited(task: Callable[[], T], seconds: float) -> T:
    """``task()`` run in a forked child with one thread, killed past ``seconds``.

    Raises:
        AnchorFailure: the task raised (its error), the child died, or it ran out of time.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    sys.stdout.flush()
    sys.stderr.flush()  # else the child's copies of the buffers are written twice
    child = context.Process(target=_child, args=(sender, task), daemon=False)
    child.start()
    sender.close()
    answered = False
    try:
        # poll, not join: a child writing a large answer blocks until it is read
        if not receiver.poll(seconds):
            raise AnchorFailure(f"gave up after {seconds:g} s", timed_out=True)
        try:
            status, payload = receiver.recv()
        except EOFError:
            child.join(KILL_GRACE_SECONDS)
            raise AnchorFailure(f"the child died (exit code {child.exitcode})") from None
        answered = True
    finally:
        receiver.close()
        _end(child, KILL_GRACE_SECONDS if answered else 0.0)
    if status != "ok":
        raise AnchorFailure(payload)
    return payload


def _child(sender: Connection, task: Callable[[], Any]) -> None:
    """Run ``task`` in its own process group (so that its own children die with it) and send
    ("ok", answer) or ("error", reason) back."""
    os.setpgrp()
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            message: tuple[str, Any] = ("ok", task())
    except BaseException as error:  # any failure is an answer, never a hang
        message = ("error", _reason(error))
    try:
        sender.send(message)
    finally:
        sender.close()


def _reason(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


def _end(child: multiprocessing.process.BaseProcess, grace: float) -> None:
    """Give ``child`` ``grace`` seconds to exit, then kill its process group."""
    child.join(grace)
    if child.is_alive() and child.pid is not None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # it had not made its group yet
            child.kill()
        child.join()
    child.close()


# ----------------------------------------------------------------------------- interpolation


def interpolation_anchors(
    times: np.ndarray,
    values: np.ndarray,
    query: np.ndarray,
    *,
    methods: Sequence[str] = INTERPOLATION_ANCHORS,
) -> dict[str, np.ndarray]:
    """Each interpolation method's answer at ``query`` (module docstring).

    Args:
        times: float64 [N], increasing: the training times (may be POSIX seconds).
        values: [N, D] (or [N]), NaN where an entry is not observed.
        query: [Q] times to answer at.
        methods: which of ``INTERPOLATION_ANCHORS``.

    Returns:
        method -> answers [Q, D] (NaN in a dimension with no observed entry).
    """
    unknown = set(methods) - set(INTERPOLATION_ANCHORS)
    if unknown:
        raise ValueError(f"unknown interpolation anchors {sorted(unknown)}")
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    query = np.asarray(query, dtype=np.float64)
    if values.shape[0] != len(times) or query.ndim != 1:
        raise ValueError("times [N], values [N, D] and query [Q] do not match")
    origin = times[0] if len(times) else 0.0
    span = times[-1] - origin if len(times) > 1 else 0.0
    span = span if span > 0 else 1.0
    u, v = (times - origin) / span, (query - origin) / span  # [N], [Q]
    answers = {m: np.full((len(query), values.shape[1]), np.nan) for m in methods}
    if len(query) == 0:
        return answers
    for d in range(values.shape[1]):
        observed = ~np.isnan(values[:, d])
        x, y = u[observed], values[observed, d]
        if len(x) == 0:
            continue
        for method in methods:
            if len(x) == 1:
                answers[method][:, d] = y[0]
            elif method == "linear":
                answers[method][:, d] = np.interp(v, x, y)
            elif method == "pchip":
                answers[method][:, d] = _pchip(x, y, v)
            else:
                answers[method][:, d] = _gaussian_process(x, y, v)
    return answers


def _pchip(x: np.ndarray, y: np.ndarray, query: np.ndarray) -> np.ndarray:
    """PCHIP through (x, y), flat beyond the ends."""
    from scipy.interpolate import PchipInterpolator

    return PchipInterpolator(x, y, extrapolate=False)(np.clip(query, x[0], x[-1]))


def _gaussian_process(x: np.ndarray, y: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The GP posterior mean at ``query`` from (x, y) in [0, 1] units (module docstring)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    if len(x) > GP_MAX_POINTS:
        kept = np.sort(np.argsort(_distance_to_nearest(x, query), kind="stable")[:GP_MAX_POINTS])
        x, y = x[kept], y[kept]
    kernel = ConstantKernel(1.0) * RBF(0.1, GP_LENGTH_BOUNDS) + WhiteKernel(0.01, GP_NOISE_BOUNDS)
    model = GaussianProcessRegressor(
        kernel, normalize_y=True, n_restarts_optimizer=GP_RESTARTS, random_state=GP_SEED
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a bound reached is still an answer
        model.fit(x[:, None], y)
    return np.asarray(model.predict(query[:, None]), dtype=np.float64)


def _distance_to_nearest(x: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Each of ``x`` [N]'s distance to the nearest of ``query`` [Q] (Q > 0)."""
    ordered = np.sort(query)
    right = np.clip(np.searchsorted(ordered, x), 0, len(ordered) - 1)
    left = np.clip(right - 1, 0, len(ordered) - 1)
    return np.minimum(np.abs(x - ordered[left]), np.abs(x - ordered[right]))


# ----------------------------------------------------------------------------- populations

Curves = Sequence[tuple[np.ndarray, np.ndarray]]  # (times [T_i] increasing, values [T_i, D])


def mean_curve(curves: Curves, query: np.ndarray) -> np.ndarray:
    """The population's mean curve at ``query`` [Q]: [Q, D].

    Args:
        curves: the other curves, each (times [T_i], values [T_i, D] with NaN where an entry is
            not observed); at least one.
        query: the times to answer at.

    In each dimension, each curve is interpolated linearly between its observed entries; at a
    time inside the observed range of one or more curves, the average of those; at a time no
    curve covers, the average value of the curve ends (first or last observed entries) nearest
    to it in time. NaN in a dimension no curve observes.
    """
    if not curves:
        raise ValueError("mean_curve needs at least one curve")
    query = np.asarray(query, dtype=np.float64)
    dims = np.asarray(curves[0][1]).reshape(len(curves[0][0]), -1).shape[1]
    out = np.full((len(query), dims), np.nan)
    for d in range(dims):
        total, count = np.zeros(len(query)), np.zeros(len(query))
        end_times: list[float] = []
        end_values: list[float] = []
        for times, values in curves:
            column = np.asarray(values, dtype=np.float64).reshape(len(times), -1)[:, d]
            observed = ~np.isnan(column)
            t, y = np.asarray(times, dtype=np.float64)[observed], column[observed]
            if len(t) == 0:
                continue
            covers = (query >= t[0]) & (query <= t[-1])
            total[covers] += np.interp(query[covers], t, y)
            count[covers] += 1
            end_times += [t[0], t[-1]]
            end_values += [y[0], y[-1]]
        if not end_times:
            continue
        out[:, d] = total / np.maximum(count, 1)
        uncovered = count == 0
        if uncovered.any():
            distance = np.abs(query[uncovered, None] - np.asarray(end_times)[None])  # [U, E]
            nearest = distance == distance.min(axis=1, keepdims=True)
            out[uncovered, d] = (nearest * np.asarray(end_values)[None]).sum(1) / nearest.sum(1)
    return out


def mean_shape(
    curves: Curves, times: np.ndarray, values: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """The mean curve shifted and tilted onto one curve: [Q, D].

    Args:
        curves: the other curves (``mean_curve``).
        times: this curve's training times [T], increasing.
        values: its values [T, D], NaN where not observed.
        query: the times to answer at [Q].

    In each dimension, ``mean_curve`` at ``query`` plus the least-squares line through this
    curve's residuals from the mean curve at its observed entries: a constant shift with one
    observed entry (or several at one time), nothing with none.
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(times), -1)
    query = np.asarray(query, dtype=np.float64)
    out = mean_curve(curves, query)
    at_own = mean_curve(curves, times)  # [T, D]
    for d in range(values.shape[1]):
        residual = values[:, d] - at_own[:, d]
        kept = ~np.isnan(residual)
        t, r = times[kept], residual[kept]
        if len(t) == 0:
            continue
        span = t[-1] - t[0]
        if not span > 0:
            out[:, d] += r.mean()
            continue
        slope, intercept = np.polyfit((t - t[0]) / span, r, 1)
        out[:, d] += intercept + slope * (query - t[0]) / span
    return out
