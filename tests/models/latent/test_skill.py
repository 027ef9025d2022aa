"""Which forecast a model leans on: chosen on the held-out tail and the in-sample origins."""

from __future__ import annotations

import numpy as np

from models.baselines import EXTRAPOLATION_BASELINES, FORECAST_PARTNERS, per_dimension
from models.latent.holdout import HeldOut
from models.latent.skill import _partner
from models.series import Series
from models.synthetic import mean_reverting


def _forecast_cases(series: Series, origins: np.ndarray, horizon: float) -> list[HeldOut]:
    """Forecasts of ``horizon`` from each origin, reading everything before it."""
    cases = []
    for origin in origins:
        past, ahead = (
            series.times <= origin,
            (series.times > origin) & (series.times <= origin + horizon),
        )
        context = Series(series.id, series.times[past], series.values[past])
        cases.append(HeldOut(context, series.times[ahead], series.values[ahead]))
    return cases


def _choose(cases: list[HeldOut], in_sample: list[HeldOut]) -> str:
    candidates = {**EXTRAPOLATION_BASELINES, **FORECAST_PARTNERS}
    fallback = np.zeros(1)
    naive = {
        name: np.concatenate([per_dimension(m, c.context, c.times, fallback) for c in cases])
        for name, m in candidates.items()
    }
    truth = np.concatenate([c.values for c in cases])
    return _partner(candidates, naive, truth, in_sample, fallback)


def test_a_mean_reverting_series_leans_on_the_return_to_its_mean():
    """Over many origins, forecasting two correlation times ahead, the return to the mean beats
    the last value, the drift and a line; on one short tail it often does not."""
    wins_alone = 0
    for seed in range(6):
        (series,) = mean_reverting(seed).series
        tail = _forecast_cases(series, np.array([96.0]), 4.0)
        origins = np.linspace(30.0, 92.0, 12)
        assert _choose(tail, _forecast_cases(series, origins, 4.0)) == "mean_reversion"
        wins_alone += _choose(tail, []) == "mean_reversion"
    assert wins_alone < 6  # the tail alone is a coin toss: what the in-sample origins settle


def test_without_evidence_the_first_candidate_stands():
    empty = HeldOut(
        Series("s", np.array([0.0, 1.0]), np.ones((2, 1))), np.zeros(0), np.zeros((0, 1))
    )
    assert _choose([empty], []) == "last_value"


def test_interpolation_is_judged_only_inside_each_context():
    from models.latent.skill import _inside

    context = Series("s", np.array([2.0, 3.0, 5.0]), np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]]))
    case = HeldOut(context, np.array([1.0, 2.5, 4.0, 6.0]), np.ones((4, 2)))
    inside = _inside(None)(case)
    assert inside.shape == (4, 2)
    np.testing.assert_array_equal(inside[:, 0], [False, True, True, False])
    np.testing.assert_array_equal(inside[:, 1], inside[:, 0])
    first_only = _inside(lambda c: np.array([[True, False]] * 4))(case)
    np.testing.assert_array_equal(first_only[:, 1], False)
    np.testing.assert_array_equal(first_only[:, 0], [False, True, True, False])


def test_a_dimension_is_judged_inside_its_own_observations_or_the_contexts_with_one():
    from models.latent.skill import _inside

    values = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 2.0], [4.0, np.nan]])
    context = Series("s", np.array([1.0, 2.0, 3.0, 4.0]), values)
    case = HeldOut(context, np.array([1.5, 2.5, 3.5]), np.ones((3, 2)))
    inside = _inside(None)(case)
    np.testing.assert_array_equal(inside[:, 0], [True, True, True])
    np.testing.assert_array_equal(inside[:, 1], [False, True, False])  # its own 2..3
    once = values.copy()
    once[2, 1] = np.nan  # observed once: the model answers it, inside the context's range
    single = HeldOut(Series("s", context.times, once), case.times, case.values)
    np.testing.assert_array_equal(_inside(None)(single)[:, 1], [True, True, True])
