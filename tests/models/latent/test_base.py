"""The seasonal base: a trend whose slope may change at knots, plus Fourier terms at the season."""

from __future__ import annotations

import numpy as np
import pytest

from models.latent.base import calendar_companions, fit_base, residuals, trend_knots
from models.series import Series, TimeKind

PERIOD = 1.0


def seasonal(times: np.ndarray) -> np.ndarray:
    phase = 2 * np.pi * times / PERIOD
    return np.sin(phase) + 0.3 * np.cos(2 * phase)


def series(trend: np.ndarray, times: np.ndarray, noise: float, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    values = trend + seasonal(times) + noise * rng.standard_normal(len(times))
    return Series("s", times, values[:, None])


def irregular(seasons: float, points: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).uniform(0.0, seasons * PERIOD, points))


def bent_trend(times: np.ndarray, bend: float) -> np.ndarray:
    """Slope 0.2 per season, then 1.0 after ``bend``: growth that speeds up, as co2's did."""
    return 0.2 * times + 0.8 * np.maximum(times - bend, 0.0)


def test_a_forecast_goes_on_with_the_latest_slope():
    times = irregular(20, 2000)
    fitted = series(bent_trend(times, 14.0), times, noise=0.2)
    ahead = np.linspace(20.0, 21.0, 50)
    truth = bent_trend(ahead, 14.0) + seasonal(ahead)
    trend = fit_base(fitted, PERIOD)
    error = np.mean((trend(ahead)[:, 0] - truth) ** 2)
    # One line over the whole history: its slope is the average one, its forecast too low.
    line = fit_base(fitted, PERIOD, bends=False)
    assert line.knots == ()
    line_error = np.mean((line(ahead)[:, 0] - truth) ** 2)
    # The ridge shrinks a sudden change of slope (0.2 to 1.0 here) a little: 0.85 at the end.
    final_slope = trend.coefficients[1, 0] + trend.coefficients[-len(trend.knots) :, 0].sum()
    assert 0.8 < final_slope < 1.1
    assert line.coefficients[1, 0] < 0.6
    assert error < 0.2 * line_error


def test_a_straight_trend_is_fitted_exactly_whatever_the_knots():
    times = irregular(20, 500)
    fitted = fit_base(series(0.5 * times - 3.0, times, noise=0.0), PERIOD)
    assert len(fitted.knots) == 8  # a span of 19.9 seasons: 9 segments of 2.2
    np.testing.assert_allclose(fitted.coefficients[-8:, 0], 0.0, atol=1e-9)
    ahead = np.linspace(20.0, 22.0, 40)
    np.testing.assert_allclose(fitted(ahead)[:, 0], 0.5 * ahead - 3.0 + seasonal(ahead), atol=1e-8)


@pytest.mark.parametrize(
    ("span", "knots"), [(1.0, 0), (3.9, 0), (4.0, 1), (10.0, 4), (41.0, 19), (1000.0, 25)]
)
def test_knots_every_two_seasons_at_most_25_and_none_for_a_short_span(span, knots):
    found = trend_knots(5.0, 5.0 + span * PERIOD, PERIOD)
    assert len(found) == knots
    assert all(5.0 < k < 5.0 + span for k in found)
    if knots:
        np.testing.assert_allclose(np.diff([5.0, *found, 5.0 + span]), span / (knots + 1))


def test_a_dimension_with_few_observations_keeps_its_mean():
    times = irregular(12, 300)
    values = np.stack([0.1 * times + seasonal(times), np.full(len(times), np.nan)], axis=1)
    values[:5, 1] = [1.0, 2.0, 3.0, 4.0, 5.0]
    fitted = fit_base(Series("s", times, values), PERIOD)
    at = np.array([3.0, 13.0])
    assert np.all(np.isfinite(fitted(at)))
    np.testing.assert_allclose(fitted(at)[:, 1], 3.0)


DAY = 86_400.0
YEAR = 365.25 * DAY


def daily(weekly: float, years: float = 3.0, seed: int = 0) -> Series:
    """Datetime observations on 85% of the days: a yearly season, a weekly one of amplitude
    ``weekly``, noise 0.8."""
    rng = np.random.default_rng(seed)
    days = np.arange(int(years * 365.25))
    days = days[rng.random(len(days)) > 0.15]
    values = (
        3 * np.sin(2 * np.pi * days / 365.25)
        + weekly * np.sin(2 * np.pi * days / 7)
        + 0.8 * rng.standard_normal(len(days))
    )
    return Series("s", 1.6e9 + days * DAY, values[:, None])


@pytest.mark.parametrize("seed", range(3))
def test_a_week_beside_a_year_joins_the_base_of_daily_data(seed: int):
    """Daily data with a year and a week: the base carries both, so it leaves the noise."""
    data = daily(weekly=2.0, seed=seed)
    companions = calendar_companions(data, TimeKind.DATETIME, YEAR)
    assert companions == (7 * DAY,)
    alone = residuals(data, fit_base(data, YEAR)).values.std()
    both = residuals(data, fit_base(data, YEAR, companions=companions)).values.std()
    assert alone > 1.5 and both == pytest.approx(0.8, rel=0.1)


def test_no_companion_without_a_weekly_pattern_with_numeric_times_or_too_few_points_a_week():
    assert calendar_companions(daily(weekly=0.0), TimeKind.DATETIME, YEAR) == ()
    numeric = Series("s", daily(weekly=2.0).times / DAY, daily(weekly=2.0).values)
    assert calendar_companions(numeric, TimeKind.NUMERIC, 365.25) == ()
    weekly = daily(weekly=2.0, years=10)
    every_tenth_day = Series("s", weekly.times[::10], weekly.values[::10])  # a week unseen
    assert calendar_companions(every_tenth_day, TimeKind.DATETIME, YEAR) == ()
