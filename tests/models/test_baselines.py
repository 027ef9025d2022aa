"""Naive methods: exact on the lines and seasons they assume, at any scale of time."""

from __future__ import annotations

import numpy as np
import pytest

from models.baselines import drift, last_value, linear_trend, seasonal_naive


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
