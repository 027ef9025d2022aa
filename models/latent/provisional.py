"""The model a fit serves while its latent ODE trains: the cheap candidates alone.

Outside a context's observed range the forecasting pipeline's recipe answers (its candidates
backtested on the data set and chosen by the same rule as the final model's,
``models.forecast.pipeline``); inside it, linear interpolation with its spread fitted on
observations left out (``models.forecast.gaps``). Nothing here trains a network, so a worker
has it servable seconds after the data arrive; the latent ODE's model replaces it when training
ends (``stage`` final).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..forecast.gaps import GapSpread, fit_gap_spread
from ..forecast.intervals import GAUSSIAN
from ..forecast.pipeline import (
    MIN_RECIPE_POINTS,
    Recipe,
    backcast_moments,
    candidate_seasons,
    choose_forecast_with_evidence,
    forecast_moments,
    observed,
    standard_quantiles,
)
from ..forecast.report import backtest_table, finite_json
from ..series import Dataset, Series
from ..store.record import Stage
from .normaliser import Normaliser
from .train import Config

INTERPOLATION_METHOD = "linear_interpolation"


@dataclass(frozen=True)
class ProvisionalModel:
    """The cheap candidates' answer, in the data's units.

    Attributes:
        normaliser, config: those the latent ODE trains with (the service reads a model's
            span from them to bound how far it answers).
        series_ids: the training series.
        recipe: the forecast recipe (``models.forecast.pipeline.Recipe``).
        gaps: per dimension, linear interpolation's spread.
        skill: the record's figures: the recipe, its backtest, the gaps' spread.
    """

    normaliser: Normaliser
    config: Config
    series_ids: tuple[str, ...]
    recipe: Recipe
    gaps: tuple[GapSpread, ...]
    skill: dict[str, Any]

    @property
    def stage(self) -> Stage:
        return Stage.PROVISIONAL

    def answer(
        self, context: Series, times: np.ndarray, levels: Sequence[float]
    ) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        """The mean [T, D] and the quantiles (level -> [T, D]) at ``times`` [T] (any order)."""
        times = np.asarray(times, dtype=np.float64)
        wanted = np.asarray(levels, dtype=np.float64)
        dims = len(self.gaps)
        mean = np.empty((len(times), dims))
        spread = np.empty((len(times), dims))
        z = np.empty((len(wanted), len(times), dims))
        ahead = forecast_moments(self.recipe, context, times)
        behind = backcast_moments(self.recipe, context, times)
        forecast_z = standard_quantiles(self.recipe, wanted)  # [L, D]
        for d in range(dims):
            t, v = observed(context, d)
            # without two observations there is no scale: the training data's spread
            fallback = (v[0] if len(v) else self.normaliser.mean[d], self.normaliser.std[d])
            mean[:, d], spread[:, d] = fallback
            z[:, :, d] = GAUSSIAN(wanted)[:, None]
            if len(t) < MIN_RECIPE_POINTS:
                continue
            inside = (times >= t[0]) & (times <= t[-1])
            mean[inside, d] = np.interp(times[inside], t, v)
            spread[inside, d] = np.sqrt(self.gaps[d].variance(t, v, times[inside]))
            z[:, inside, d] = self.gaps[d].quantiles(wanted)[:, None]
            for outside, (m, variance), edge in (
                (times > t[-1], ahead, v[-1]),
                (times < t[0], behind, v[0]),
            ):
                known = outside & np.isfinite(m[:, d])  # a family's backcast is not known
                mean[known, d], spread[known, d] = m[known, d], np.sqrt(variance[known, d])
                z[:, known, d] = forecast_z[:, d, None]
                mean[outside & ~known, d] = edge
        return mean, {float(q): mean + z[i] * spread for i, q in enumerate(wanted)}

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": str(Stage.PROVISIONAL),
            "config": self.config.to_json(),
            "normaliser": self.normaliser.to_json(),
            "series_ids": list(self.series_ids),
            "forecast_recipe": self.recipe.to_json(),
            "gaps": [g.to_json() for g in self.gaps],
            "skill": self.skill,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProvisionalModel:
        return cls(
            normaliser=Normaliser.from_json(data["normaliser"]),
            config=Config.from_json(data["config"]),
            series_ids=tuple(data["series_ids"]),
            recipe=Recipe.from_json(data["forecast_recipe"]),
            gaps=tuple(GapSpread.from_json(g) for g in data["gaps"]),
            skill=dict(data.get("skill") or {}),
        )


def fit_provisional(config: Config, dataset: Dataset, normaliser: Normaliser) -> ProvisionalModel:
    """Backtest and choose the forecast candidates, and fit the gaps' spread, on ``dataset``."""
    seasons = candidate_seasons(dataset.series, dataset.time_kind)
    recipe, evidence = choose_forecast_with_evidence(
        dataset.series, seasons, time_kind=dataset.time_kind
    )
    gaps = tuple(fit_gap_spread(dataset.series, d, recipe.policy) for d in range(dataset.dims))
    skill = {
        "held_out": "backtest",
        "season": normaliser.season,
        "window": normaliser.window,
        "base": normaliser.base,
        "interpolation_method": INTERPOLATION_METHOD,
        "gaps": [g.to_json() for g in gaps],
        "forecast_recipe": finite_json(recipe.to_json()),
        "backtest": finite_json(backtest_table(recipe, evidence)),
    }
    ids = tuple(s.id for s in dataset.series)
    return ProvisionalModel(normaliser, config, ids, recipe, gaps, skill)
