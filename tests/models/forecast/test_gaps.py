"""Linear interpolation's spread in a gap: noise and walk told apart, intervals that hold."""

from __future__ import annotations

import numpy as np
import pytest

from models.forecast.gaps import GapSpread, fit_gap_spread
from models.forecast.intervals import GAUSSIAN
from models.series import Series


def walk_with_noise(
    seed: int, points: int, walk: float, noise: float, irregular: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A random walk (variance ``walk`` per unit of time) observed with white noise."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, points, points)) if irregular else np.arange(float(points))
    steps = rng.normal(0, np.sqrt(walk * np.diff(times, prepend=times[0])))
    return times, np.cumsum(steps) + rng.normal(0, np.sqrt(noise), points)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("walk", "noise"), [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_the_fitted_variance_matches_the_process(seed: int, walk: float, noise: float) -> None:
    """In data units: step scale squared times the fitted shares, against the true ones, at a
    time half a spacing from two observations (walk: a*b/(a+b) = 1/4; noise: 1 + 1/2)."""
    times, values = walk_with_noise(seed, 3000, walk, noise)
    spread = fit_gap_spread([Series("s", times, values[:, None])], 0)
    fitted = spread.variance(times, values, np.array([100.5]))[0]
    true = walk * 0.25 + noise * 1.5
    assert fitted == pytest.approx(true, rel=0.15)


def test_intervals_of_hidden_points_hold_their_level() -> None:
    """Irregular times, every third point hidden, 5 draws of 1,000 hidden points: 80% and 90%
    intervals hold about that share (each draw's own estimate of the spread varies)."""
    held = {0.8: [], 0.9: []}
    for seed in range(5):
        times, values = walk_with_noise(seed, 3000, 1.0, 0.5, irregular=True)
        hidden = np.zeros(len(times), dtype=bool)
        hidden[1:-1:3] = True
        shown = Series("s", times[~hidden], values[~hidden, None])
        spread = fit_gap_spread([shown], 0)
        mean = np.interp(times[hidden], shown.times, values[~hidden])
        sd = np.sqrt(spread.variance(shown.times, values[~hidden], times[hidden]))
        for level, shares in held.items():
            lower, upper = spread.quantiles(np.array([(1 - level) / 2, (1 + level) / 2]))
            inside = (values[hidden] >= mean + lower * sd) & (values[hidden] <= mean + upper * sd)
            shares.append(inside.mean())
    for level, shares in held.items():
        assert abs(np.mean(shares) - level) < 0.02, (level, shares)
        assert max(abs(np.array(shares) - level)) < 0.06, (level, shares)


def test_too_few_points_take_a_random_walks_spread() -> None:
    short = Series("s", np.array([0.0, 1.0, 2.0]), np.array([[1.0], [3.0], [2.0]]))
    assert fit_gap_spread([short], 0) == GapSpread()
    assert GapSpread().quantiles == GAUSSIAN


def test_a_family_pools_its_series_each_on_its_own_scale() -> None:
    """The same process at scales 1 and 1000: one spread fits both, in step scales."""
    times, values = walk_with_noise(0, 400, 1.0, 0.0)
    alone = fit_gap_spread([Series("a", times, values[:, None])], 0)
    both = fit_gap_spread(
        [Series("a", times, values[:, None]), Series("b", times, 1000 * values[:, None])], 0
    )
    assert both.walk == pytest.approx(alone.walk)
    assert both.noise == pytest.approx(alone.noise, abs=1e-9)


def test_a_spread_round_trips_through_json() -> None:
    times, values = walk_with_noise(3, 500, 1.0, 1.0)
    spread = fit_gap_spread([Series("s", times, values[:, None])], 0)
    assert spread.quantiles != GAUSSIAN  # enough errors for their own shape
    assert GapSpread.from_json(spread.to_json()) == spread
    with pytest.raises(ValueError, match="quantile sizes"):
        GapSpread.from_json({**spread.to_json(), "quantiles": [1.0]})


def test_the_observation_at_a_query_is_answered_with_the_noise_alone() -> None:
    spread = GapSpread(noise=2.0, walk=5.0)
    times, values = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0])
    at_observation = spread.variance(times, values, np.array([1.0]))[0]
    assert at_observation == pytest.approx(2.0 * 2.0)  # noise share 2, step scale 1
