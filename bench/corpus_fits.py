"""odecast on the development corpus: each fit as a worker runs it (``models.latent.train`` with
the service's defaults but the training seed), each answer as ``/predict`` gives it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

import numpy as np
from corpus_data import Population, SingleSeries
from corpus_splits import CurveSplit, Origin
from quality_scores import QUANTILE_LEVELS, Forecast

from models.latent.predict import predict
from models.latent.train import Config, TrainedModel, TrainingConfig, train
from models.series import Dataset, Series, TimeKind

SAMPLES = 100  # posterior samples per answer (the API's default)


@dataclass(frozen=True)
class SeriesAnswers:
    """odecast's answers at one origin of a single series.

    Attributes:
        forecast: at the origin's ``ahead`` rows, [Qf, 1].
        interpolation: at its ``hidden`` rows, [Qi, 1].
        fit_s: wall seconds of the fit (training and the skill assessment).
        served: what the fit's skill record says serves (JSON-ready).
    """

    forecast: Forecast
    interpolation: Forecast
    fit_s: float
    served: dict[str, object]


@dataclass(frozen=True)
class PopulationAnswers:
    """odecast's answers on a population: per curve, at its hidden rows and at its tail."""

    interpolation: tuple[Forecast, ...]
    tail: tuple[Forecast, ...]
    fit_s: float
    served: dict[str, object]


def fit_series(series: SingleSeries, origin: Origin, seed: int) -> SeriesAnswers:
    """Fit one series' rows before ``origin`` (less the hidden ones); answer the rest."""
    kind = TimeKind.DATETIME if series.datetime else TimeKind.NUMERIC
    context = Series(
        _series_id(series.name), series.times[origin.train], series.values[origin.train, None]
    )
    trained, seconds = _fit(Dataset((context,), kind), seed)
    forecast = _answer(trained, context, series.times[origin.ahead])
    interpolation = _answer(trained, context, series.times[origin.hidden])
    return SeriesAnswers(forecast, interpolation, seconds, _served(trained))


def fit_population(
    population: Population, splits: tuple[CurveSplit, ...], seed: int
) -> PopulationAnswers:
    """Fit every curve's read rows together; answer each curve's hidden rows and tail."""
    contexts = tuple(
        Series(_series_id(c.id), c.times[s.train], c.values[s.train])
        for c, s in zip(population.curves, splits, strict=True)
    )
    trained, seconds = _fit(Dataset(contexts, TimeKind.NUMERIC), seed)
    interpolation, tail = [], []
    for curve, split, context in zip(population.curves, splits, contexts, strict=True):
        interpolation.append(_answer(trained, context, curve.times[split.hidden]))
        tail.append(_answer(trained, context, curve.times[split.tail]))
    return PopulationAnswers(tuple(interpolation), tuple(tail), seconds, _served(trained))


def _fit(dataset: Dataset, seed: int) -> tuple[TrainedModel, float]:
    started = time.monotonic()
    trained = train(Config(training=replace(TrainingConfig(), seed=seed)), dataset)
    return trained, time.monotonic() - started


def _answer(trained: TrainedModel, context: Series, times: np.ndarray) -> Forecast:
    if len(times) == 0:
        dims = context.values.shape[1]
        return Forecast(np.zeros((0, dims)), {q: np.zeros((0, dims)) for q in QUANTILE_LEVELS})
    answer = predict(trained, context, times, n_samples=SAMPLES, quantiles=QUANTILE_LEVELS)
    return Forecast(answer.mean, answer.quantiles)


def _served(trained: TrainedModel) -> dict[str, object]:
    """What the fit's skill record says serves, and the error ratio it claims for it."""
    skill = trained.skill
    served: dict[str, object] = {"extrapolation_method": skill.get("extrapolation_method")}
    for task in ("interpolation", "extrapolation"):
        figures = skill.get(task)
        if isinstance(figures, dict):
            served[task] = {"blend": figures.get("blend"), "claimed_ratio": figures.get("ratio")}
    return served


def _series_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:64]
