"""Long cases of the quality benchmark: one long series per fit, the service's defaults.

Cases: the synthetic ``models.synthetic.LONG_FAMILIES`` (``trend_season``,
``drifting_oscillator``, ``mean_reverting``; about 2,000 irregular points with gaps, data seed 0
whatever the training seed) and the real ``co2`` and ``sunspots`` of ``bench/real_series.py``.

Split, with P the series' season (the true one for the synthetic families, 365.25 days for co2,
11 years for sunspots, a tenth of the span without one):

- extrapolation: the points in the last P of the series are held out and predicted;
- interpolation: 30% of the points in the 4P before that tail are hidden (the same ones for every
  training seed) and predicted;
- the model is trained on the rest, one series, and predicts from it as its context.

Scored in raw units (``quality_scores``): interpolation against linear interpolation between the
training points; extrapolation against the naive methods of ``models.baselines`` (last value,
drift, linear trend, seasonal naive at P; the best of them is "best naive") and against Prophet
with its defaults on the same training points (``prophet_reference``; skipped, with a message,
when Prophet is not installed). Checked per seed, then on the mean of the seeds:
interpolation MSE <= 0.8x linear on the synthetic cases and <= 1.0x on the real ones,
extrapolation MSE <= 0.7x the best naive method and <= 1.2x Prophet's, and the coverage of the
80% and 90% intervals on all held-out points within 5 points of nominal. The synthetic cases'
records also give the noise floor (the noiseless values' MSE on the held-out points), and the
synthetic cases are also scored for the ideal predictor (``quality_ideal``: the true law with the
true parameters), whose figures the table prints beside the latent ODE's: a target the ideal
predictor misses cannot be met on that case's data.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import prophet_reference
from quality_ideal import ideal_forecast
from quality_latent import latent_forecast, log, train_model
from quality_scores import (
    CaseRun,
    Forecast,
    Scores,
    Target,
    coverage_targets,
    coverage_values,
    ratio,
)
from real_series import REAL_SERIES

from models.baselines import (
    EXTRAPOLATION_BASELINES,
    Baseline,
    linear_interpolation,
    per_dimension,
    seasonal,
)
from models.latent.model import ModelConfig
from models.latent.train import TrainedModel, TrainingDivergedError
from models.series import Dataset, Series
from models.synthetic import LONG_FAMILIES, LongFamily

DATA_SEED = 0  # the synthetic series; training seeds vary, the data do not
SPLIT_SEED = 2  # which interpolation points are hidden
INTERP_FRACTION = 0.3
INTERP_SEASONS = 4
SPAN_FRACTION = 0.1  # P for a series without a season
INTERP_TARGET = {"synthetic": 0.8, "real": 1.0}  # latent / linear interpolation
EXTRAP_NAIVE_TARGET = 0.7  # latent / best naive method
EXTRAP_PROPHET_TARGET = 1.2  # latent / Prophet
IDEAL = "ideal"  # the ideal predictor's name among the scored methods


@dataclass(frozen=True)
class LongCase:
    """A long series to fit.

    Attributes:
        kind: "synthetic" or "real" (the interpolation target differs).
        load: returns the series as a one-series ``Dataset``.
        season: its season in its time units, or None.
        dates: the calendar dates of its times, for Prophet.
        family: the synthetic family the series is drawn from (with ``DATA_SEED``), or None.
    """

    kind: str
    load: Callable[[], Dataset]
    season: float | None
    dates: prophet_reference.Dates
    family: LongFamily | None = None


def _cases() -> dict[str, LongCase]:
    cases = {
        name: LongCase(
            "synthetic",
            functools.partial(family.generate, DATA_SEED),
            family.season,
            prophet_reference.unit_days,
            family=family,
        )
        for name, family in LONG_FAMILIES.items()
    }
    for name, real in REAL_SERIES.items():
        cases[name] = LongCase("real", real.load, real.season, real.dates)
    return cases


LONG_CASES: Mapping[str, LongCase] = MappingProxyType(_cases())


@dataclass(frozen=True)
class LongSplit:
    """One long series split into what the model sees and the two held-out sets.

    Attributes:
        training: the observed rows the model is trained on and predicts from.
        interp_times, interp_values: the hidden points in the 4P before the tail, [Qi] and
            [Qi, D].
        extrap_times, extrap_values: the points of the last P, [Qe] and [Qe, D].
        period: P, in the series' time units.
    """

    training: Series
    interp_times: np.ndarray
    interp_values: np.ndarray
    extrap_times: np.ndarray
    extrap_values: np.ndarray
    period: float


def split_long(series: Series, season: float | None) -> LongSplit:
    """Hold out the last P and a seeded 30% of the 4P before it (P: ``season`` or span / 10)."""
    times = series.times
    period = season if season is not None else SPAN_FRACTION * float(times[-1] - times[0])
    extrap = times > times[-1] - period
    window = np.flatnonzero((times > times[-1] - (INTERP_SEASONS + 1) * period) & ~extrap)
    rng = np.random.default_rng(SPLIT_SEED)
    hidden = rng.choice(window, size=round(INTERP_FRACTION * len(window)), replace=False)
    interp = np.zeros(len(series), dtype=bool)
    interp[hidden] = True
    kept = ~(interp | extrap)
    training = Series(series.id, times[kept], series.values[kept])
    return LongSplit(
        training,
        times[interp],
        series.values[interp],
        times[extrap],
        series.values[extrap],
        period,
    )


def naive_forecast(baseline: Baseline, split: LongSplit, times: np.ndarray) -> Forecast:
    """A naive method applied per dimension to the training points, at ``times``."""
    fallback = np.nanmean(split.training.values, axis=0)
    return Forecast(per_dimension(baseline, split.training, times, fallback))


def naive_extrapolations(split: LongSplit) -> dict[str, Forecast]:
    """Last value, drift, linear trend and seasonal naive at P, on the extrapolation times."""
    methods = {**EXTRAPOLATION_BASELINES, "seasonal_naive": seasonal(split.period)}
    return {name: naive_forecast(m, split, split.extrap_times) for name, m in methods.items()}


def noise_floor(case: LongCase, split: LongSplit) -> dict[str, float] | None:
    """The noiseless values' MSE against the held-out points (what no method can expect to beat),
    for the synthetic cases; None for the real ones."""
    if case.family is None:
        return None
    (noiseless,) = case.family.generate(DATA_SEED, 0.0).series  # same times, same rows
    clean = split_long(noiseless, case.season)
    return {
        "interpolation": float(np.mean((split.interp_values - clean.interp_values) ** 2)),
        "extrapolation": float(np.mean((split.extrap_values - clean.extrap_values) ** 2)),
    }


# ----------------------------------------------------------------------------- Prophet


@dataclass(frozen=True)
class ProphetAnswers:
    """Prophet's forecasts of one case's held-out sets (the same for every training seed)."""

    interpolation: Forecast
    extrapolation: Forecast
    fit_s: float


@functools.cache
def prophet_answers(name: str) -> ProphetAnswers | None:
    """Prophet fitted once per case on the training points; None (with a message on stderr) when
    it is not installed or fails."""
    reason = prophet_reference.missing_reason()
    if reason is not None:
        log(f"[{name}] Prophet skipped, not importable ({reason})")
        return None
    case = LONG_CASES[name]
    split = split_long(case.load().series[0], case.season)
    started = time.monotonic()
    try:
        model = prophet_reference.fit(split.training.times, split.training.values[:, 0], case.dates)
        interp = prophet_reference.forecast(model, split.interp_times, case.dates)
        extrap = prophet_reference.forecast(model, split.extrap_times, case.dates)
    except Exception as error:  # the reference failing must not end hours of benchmark
        log(f"[{name}] Prophet skipped, it failed ({type(error).__name__}: {error})")
        return None
    return ProphetAnswers(interp, extrap, time.monotonic() - started)


# ----------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class LongScores:
    """Every method's scores on one case's two held-out sets."""

    interpolation: Scores
    extrapolation: Scores


@functools.cache
def ideal_answers(name: str) -> tuple[Forecast, Forecast] | None:
    """The ideal predictor's (interpolation, extrapolation) forecasts of a synthetic case (the
    same for every training seed); None for a real one."""
    case = LONG_CASES[name]
    if case.family is None:
        return None
    split = split_long(case.load().series[0], case.season)
    return (
        ideal_forecast(case.family, DATA_SEED, split.training, split.interp_times),
        ideal_forecast(case.family, DATA_SEED, split.training, split.extrap_times),
    )


def score_long(
    split: LongSplit,
    latent: tuple[Forecast, Forecast],
    prophet: ProphetAnswers | None,
    ideal: tuple[Forecast, Forecast] | None = None,
) -> LongScores:
    """Score the latent ODE's (interpolation, extrapolation) forecasts, the naive methods,
    Prophet and the ideal predictor on the held-out sets."""
    interp, extrap = Scores(), Scores()
    if ideal is not None:
        interp.add(IDEAL, ideal[0], split.interp_values)
        extrap.add(IDEAL, ideal[1], split.extrap_values)
    interp.add("latent_ode", latent[0], split.interp_values)
    linear = naive_forecast(linear_interpolation, split, split.interp_times)
    interp.add("linear", linear, split.interp_values)
    extrap.add("latent_ode", latent[1], split.extrap_values)
    for name, forecast in naive_extrapolations(split).items():
        extrap.add(name, forecast, split.extrap_values)
    if prophet is not None:
        interp.add("prophet", prophet.interpolation, split.interp_values)
        extrap.add("prophet", prophet.extrapolation, split.extrap_values)
    return LongScores(interp, extrap)


def long_targets(kind: str, with_prophet: bool) -> dict[str, Target]:
    """The checked figures' names and targets for a case of ``kind``."""
    targets = {
        "interp_vs_linear": Target(INTERP_TARGET[kind]),
        "extrap_vs_best_naive": Target(EXTRAP_NAIVE_TARGET),
    }
    if with_prophet:
        targets["extrap_vs_prophet"] = Target(EXTRAP_PROPHET_TARGET)
    return {**targets, **coverage_targets()}


def long_values(scores: LongScores, method: str = "latent_ode") -> dict[str, float]:
    """The checked figures of ``method`` in one run: MSE ratios, and its coverage on every
    held-out point."""
    interp, extrap = scores.interpolation, scores.extrapolation
    forecast = extrap.mse(method)
    values = {
        "interp_vs_linear": ratio(interp.mse(method), interp.mse("linear")),
        "extrap_vs_best_naive": ratio(forecast, extrap.mse(best_naive(extrap))),
    }
    if "prophet" in extrap.sums:
        values["extrap_vs_prophet"] = ratio(forecast, extrap.mse("prophet"))
    return {**values, **coverage_values(interp.merged(extrap), method)}


def best_naive(extrapolation: Scores) -> str:
    """The naive extrapolation method with the lowest MSE."""
    naive = [*EXTRAPOLATION_BASELINES, "seasonal_naive"]
    return min(naive, key=extrapolation.mse)


def long_case(name: str, *, seed: int, seconds: float, n_samples: int, device: str) -> CaseRun:
    """Train on one long case with one training seed and score it."""
    case = LONG_CASES[name]
    dataset = case.load()
    split = split_long(dataset.series[0], case.season)
    prophet = prophet_answers(name)
    targets = long_targets(case.kind, prophet is not None)
    record: dict[str, Any] = {"case": name, "group": "long", "kind": case.kind, "seed": seed}
    started = time.monotonic()
    try:
        trained = train_model(
            name,
            Dataset((split.training,), dataset.time_kind),
            ModelConfig(),
            seed=seed,
            seconds=seconds,
            device=device,
        )
    except TrainingDivergedError as error:
        return CaseRun.failed({**record, "error": f"{type(error).__name__}: {error}"}, targets)
    train_s = time.monotonic() - started
    started = time.monotonic()
    latent = _latent_answers(trained, split, n_samples, seed)
    eval_s = time.monotonic() - started
    scores = score_long(split, latent, prophet, ideal_answers(name))
    values = long_values(scores)
    ideal = long_values(scores, IDEAL) if IDEAL in scores.extrapolation.sums else {}
    record |= {
        "time_kind": str(dataset.time_kind),
        "points": len(dataset.series[0]),
        "period": split.period,
        "held_out": {
            "interpolation": len(split.interp_times),
            "extrapolation": len(split.extrap_times),
        },
        "training": {**trained.metrics, "budget_s": seconds, "wall_s": train_s},
        "eval_s": eval_s,
        "prophet_fit_s": None if prophet is None else prophet.fit_s,
        "noise_floor": noise_floor(case, split),
        "interpolation": scores.interpolation.summary(),
        "extrapolation": {
            **scores.extrapolation.summary(),
            "best_naive": best_naive(scores.extrapolation),
        },
        "figures": values,
        "ideal_figures": ideal or None,
    }
    return CaseRun(record, values, targets, ideal)


def _latent_answers(
    trained: TrainedModel, split: LongSplit, n_samples: int, seed: int
) -> tuple[Forecast, Forecast]:
    """The latent ODE's (interpolation, extrapolation) forecasts from the training points."""
    context = split.training
    return (
        latent_forecast(trained, context, split.interp_times, n_samples=n_samples, seed=seed),
        latent_forecast(trained, context, split.extrap_times, n_samples=n_samples, seed=seed),
    )
