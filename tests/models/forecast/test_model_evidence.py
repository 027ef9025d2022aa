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


def test_a_model_right_on_held_out_tails_serves_only_on_several_tails():
    recipe = choose_forecast([_curve(s) for s in range(3)], ())

    def perfect(asks):
        answers = []
        for context, times in asks:
            whole = _curve(int(context.id[1:]))
            answers.append(whole.values[np.searchsorted(whole.times, times)])
        return answers

    alone = judge_model(recipe, [_tail(_curve(7))], perfect).dims[0]
    assert not alone.model_serves and alone.model_origins == 1  # 3 stretches of one tail: one unit
    several = [_tail(_curve(s)) for s in (7, 8, 9)]
    judged = judge_model(recipe, several, perfect).dims[0]
    assert judged.model_serves and judged.model_origins == 3


def test_a_model_worse_on_held_out_tails_never_serves():
    recipe = choose_forecast([_curve(s) for s in range(3)], ())

    def flat(asks):
        return [np.full((len(times), 1), 5.0) for _, times in asks]

    judged = judge_model(recipe, [_tail(_curve(s)) for s in (7, 8, 9)], flat).dims[0]
    assert not judged.model_serves and judged.model_ratio > 1 and judged.model_p_value > 0.5
