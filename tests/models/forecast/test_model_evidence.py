"""The trained model's forecasts against the recipe's on held-out tails (``judge_model``)."""

from __future__ import annotations

import numpy as np

from models.forecast.model_evidence import Tail, judge_model
from models.forecast.pipeline import choose_forecast
from models.series import Series


def _curve(seed: int) -> Series:
    rng = np.random.default_rng(seed)
    times = np.arange(40.0)
    values = np.sin(times / 3.0) + 0.05 * rng.normal(size=40)
    return Series(f"c{seed}", times, values[:, None])


def _tail(series: Series) -> Tail:
    cut = 30
    return Tail(
        Series(series.id, series.times[:cut], series.values[:cut]),
        series.times[cut:],
        series.values[cut:],
    )


def test_a_model_right_on_one_held_out_series_serves_only_when_tails_are_not_series():
    recipe = choose_forecast([_curve(s) for s in range(3)], ())

    def perfect(asks):
        answers = []
        for context, times in asks:
            whole = _curve(int(context.id[1:]))
            answers.append(whole.values[np.searchsorted(whole.times, times)])
        return answers

    one = [_tail(_curve(7))]
    assert judge_model(recipe, one, perfect).dims[0].model_serves  # 3 stretches, 3 origins
    alone = judge_model(recipe, one, perfect, by_series=True).dims[0]
    assert not alone.model_serves and alone.model_origins == 1  # one series: one unit
    several = [_tail(_curve(s)) for s in (7, 8, 9)]
    judged = judge_model(recipe, several, perfect, by_series=True).dims[0]
    assert judged.model_serves and judged.model_origins == 3
