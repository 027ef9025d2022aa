"""A trained latent ODE's forecasts weighed against the forecasting pipeline (``models.forecast``).

``attach_recipe`` runs last in training: it backtests the pipeline's candidates on the data set,
lets the trained model's served forecast face the chosen candidate on the held-out tails
(``models.forecast.model_evidence``), and returns the model with that recipe attached, so that
``predict`` answers every forecast (a time after a context's last observation) from whichever
won, per dimension. The skill record's ``extrapolation`` figures are then those of what serves,
on the same held-out points, ``forecast_recipe`` holds the choices and their evidence, and
``backtest`` the served candidate's backtest errors beside the naive methods'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..forecast.model_evidence import Tail, judge_model
from ..forecast.pipeline import candidate_seasons, choose_forecast_with_evidence
from ..forecast.report import backtest_table, finite_json
from ..series import Dataset, Series
from .holdout import Holdout
from .predict import Ask, predict_many
from .train import TrainedModel

# The quantile levels the served figures are computed from: 0.05, 0.10, ..., 0.95.
FIGURE_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))
INTERVALS = {"80": (0.1, 0.9), "90": (0.05, 0.95)}
ROUNDING = 1e-9  # relative: a forecast does not "beat" the naive method by less


def attach_recipe(trained: TrainedModel, dataset: Dataset, holdout: Holdout) -> TrainedModel:
    """``trained`` with its forecast recipe and the skill figures of what it serves."""
    seasons = candidate_seasons(dataset.series, dataset.time_kind)
    recipe, evidence = choose_forecast_with_evidence(
        dataset.series, seasons, time_kind=dataset.time_kind
    )
    tails = [Tail(c.context, c.times, c.values) for c in holdout.extrapolation if len(c.times)]
    tails = [t for t in tails if len(t.context.times)]

    def model_forecast(asks: Sequence[tuple[Series, np.ndarray]]) -> list[np.ndarray]:
        answers = predict_many(trained, [Ask(context, times) for context, times in asks])
        return [a.mean for a in answers]

    recipe = judge_model(recipe, tails, model_forecast)
    served = replace(trained, forecast_recipe=recipe)
    skill = dict(trained.skill)
    skill["forecast_recipe"] = finite_json(recipe.to_json())
    skill["backtest"] = finite_json(backtest_table(recipe, evidence))
    figures = skill.get("extrapolation")
    if isinstance(figures, dict) and tails and not all(d.model_serves for d in recipe.dims):
        skill["extrapolation"] = {**figures, **_served_figures(served, tails, figures)}
    return replace(served, skill=skill)


def _served_figures(
    served: TrainedModel, tails: list[Tail], figures: dict[str, Any]
) -> dict[str, Any]:
    """MSE, ratio to the best naive method, coverage and CRPS of the served forecast on the
    held-out tails (the points ``figures`` were computed on)."""
    answers = predict_many(
        served, [Ask(t.context, t.times, quantiles=FIGURE_LEVELS) for t in tails]
    )
    truth = np.concatenate([t.values for t in tails])
    mask = ~np.isnan(truth)
    y = truth[mask]
    mean = np.concatenate([a.mean for a in answers])[mask]
    quantiles = {q: np.concatenate([a.quantiles[q] for a in answers])[mask] for q in FIGURE_LEVELS}
    mse = float(np.mean((mean - y) ** 2))
    baselines = figures.get("baselines") or {}
    best = figures.get("best_baseline")
    reference = baselines.get(best) if best else None
    pinball = [2 * ((y < quantiles[q]) - q) * (quantiles[q] - y) for q in FIGURE_LEVELS]
    return {
        "served": "forecast_recipe",
        "mse": mse,
        "ratio": mse / reference if reference else None,
        "beats_naive": bool(reference is not None and mse < reference * (1 - ROUNDING)),
        "coverage": {
            level: float(np.mean((quantiles[lo] <= y) & (y <= quantiles[hi])))
            for level, (lo, hi) in INTERVALS.items()
        },
        "crps": float(np.mean(pinball)),
    }
