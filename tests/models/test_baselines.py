"""Naive methods: exact on the lines and seasons they assume, at any scale of time."""

from __future__ import annotations

import numpy as np
import pytest

from models.baselines import (
    drift,
    last_value,
    linear_trend,
    mean_reversion,
    named,
    seasonal_naive,
    seasonal_name,
)


@pytest.mark.parametrize("unit", [1e-300, 1e-9, 1.0, 1e9])
def test_the_linear_trend_recovers_a_line_at_any_scale_of_time(unit: float):
    """Times spaced 1e-300 apart underflowed in polyfit's scaling and failed the job."""
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0.0, 10.0, 12)) * unit
    values = 3.0 - 0.5 * times / unit
    query = np.array([11.0, 12.5]) * unit
    np.testing.assert_allclose(linear_trend(times, values, query), 3.0 - 0.5 * query / unit)
    np.testing.assert_allclose(drift(times, values, query), 3.0 - 0.5 * query / unit)


def test_one_observation_is_its_own_forecast_and_a_season_repeats():
    assert linear_trend(np.array([2.0]), np.array([5.0]), np.array([3.0, 4.0])).tolist() == [5, 5]
    assert last_value(np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([9.0])).tolist() == [2]
    times = np.arange(0.0, 8.0)
    values = np.sin(np.pi * times / 2)
    np.testing.assert_allclose(
        seasonal_naive(times, values, np.array([8.0, 9.0]), 4.0), values[[4, 5]], atol=1e-12
    )


def _ornstein_uhlenbeck(rng: np.random.Generator, times: np.ndarray, rate: float) -> np.ndarray:
    """An exact path of dX = rate (2 - X) dt + dW at ``times``, from its stationary law."""
    values = np.empty(len(times))
    values[0] = 2.0 + rng.normal() / np.sqrt(2 * rate)
    for i in range(1, len(times)):
        kept = np.exp(-rate * (times[i] - times[i - 1]))
        spread = np.sqrt((1 - kept**2) / (2 * rate))
        values[i] = 2.0 + kept * (values[i - 1] - 2.0) + spread * rng.normal()
    return values


@pytest.mark.parametrize("rate", [0.5, 2.0])
def test_mean_reversion_returns_to_the_mean_at_the_process_rate(rate: float):
    """On a long Ornstein-Uhlenbeck path at irregular times the forecast starts at the last
    value and halves its distance to the observations' mean in about ln 2 / rate."""
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0.0, 400.0, 4000))
    values = _ornstein_uhlenbeck(rng, times, rate)
    half_life = np.log(2) / rate
    query = times[-1] + np.array([0.0, half_life, 50.0])
    start, half, far = mean_reversion(times, values, query)
    mean = values.mean()
    assert start == pytest.approx(values[-1])
    assert far == pytest.approx(mean)
    assert (half - mean) / (start - mean) == pytest.approx(0.5, abs=0.1)


def test_mean_reversion_keeps_the_last_value_of_what_wanders_off():
    """A random walk and a line have no mean to return to: the least rate tried, which moves
    the forecast by under 1% of its distance to the mean over a tenth of the span."""
    rng = np.random.default_rng(4)
    times = np.sort(rng.uniform(0.0, 100.0, 1000))
    walk = np.cumsum(rng.normal(size=1000))
    for values in (walk, 0.3 * times):
        ahead = mean_reversion(times, values, np.array([times[-1] + 10.0]))[0]
        assert abs(ahead - values[-1]) < 0.01 * abs(values[-1] - values.mean())


def test_mean_reversion_of_too_few_points_is_the_last_value():
    times, values = np.array([0.0, 1.0]), np.array([1.0, 5.0])
    assert mean_reversion(times, values, np.array([3.0])).tolist() == [5.0]
    assert named("mean_reversion", None) is mean_reversion


def test_a_seasonal_naive_method_at_another_period_is_named_by_it():
    times = np.arange(0.0, 21.0)
    values = np.sin(2 * np.pi * times / 7)
    method = named(seasonal_name(7.0), None)
    np.testing.assert_allclose(method(times, values, np.array([21.0, 22.0])), values[[14, 15]])
    for bad in ("seasonal_naive:", "seasonal_naive:-7", "seasonal_naive:nan", "seasonal_naive:x"):
        with pytest.raises(ValueError, match="period"):
            named(bad, None)
