"""Synthetic families: shapes, irregular sampling, missing entries, determinism, true dynamics;
long families: one long series with gaps, noise and (where it has one) a findable season."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.seasons import find_season
from models.series import TimeKind
from models.synthetic import (
    FAMILIES,
    LONG_FAMILIES,
    LONG_POINTS,
    OrnsteinUhlenbeck,
    damped_oscillator,
    drifting_oscillator,
    drop_at_random,
    falling_object,
    mean_reverting,
    mean_reverting_process,
    ornstein_uhlenbeck,
    periodic,
    spirals,
    trend_season,
    van_der_pol,
)

DIMS = {
    "falling_object": 1,
    "spirals": 2,
    "periodic": 1,
    "damped_oscillator": 2,
    "van_der_pol": 1,
}
DEFAULT_NOISE = {"trend_season": 0.2, "drifting_oscillator": 0.1, "mean_reverting": 0.1}


def test_every_family_has_its_dimension_listed():
    assert set(DIMS) == set(FAMILIES)
    assert set(DEFAULT_NOISE) == set(LONG_FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_gives_sorted_irregular_series_of_its_dimension(family):
    dataset = FAMILIES[family](12, seed=1)
    assert len(dataset) == 12 and dataset.dims == DIMS[family]
    gaps = []
    for series in dataset.series:
        steps = np.diff(series.times)
        assert (steps > 0).all()
        gaps.append(steps.std() / steps.mean())
        assert series.mask.any(axis=1).all(), "no row may be entirely unobserved"
    assert np.mean(gaps) > 0.3, "times must be irregular, not a grid"
    assert len({tuple(s.times[:3]) for s in dataset.series}) == 12, "each series has its own times"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_same_seed_same_data_other_seed_other_data(family):
    a, b, c = FAMILIES[family](5, seed=7), FAMILIES[family](5, seed=7), FAMILIES[family](5, seed=8)
    for x, y in zip(a.series, b.series, strict=True):
        np.testing.assert_array_equal(x.times, y.times)
        np.testing.assert_array_equal(x.values, y.values)
    assert not np.array_equal(a.series[0].times, c.series[0].times)


@pytest.mark.parametrize("family", ["spirals", "damped_oscillator"])
def test_multi_dimensional_families_miss_entries_at_random(family):
    dataset = FAMILIES[family](40, seed=0, missing=0.2)
    observed = np.concatenate([s.mask for s in dataset.series])
    assert 0.12 < 1.0 - observed.mean() < 0.25
    assert observed.any(axis=1).all()


def test_drop_at_random_keeps_one_entry_per_row_even_when_dropping_everything():
    rng = np.random.default_rng(0)
    dropped = drop_at_random(rng, np.ones((100, 3)), fraction=1.0)
    assert (np.isfinite(dropped).sum(axis=1) == 1).all()


def test_falling_object_follows_its_ode():
    (series,) = falling_object(1, n_points=4000, noise=0.0, seed=3).series
    t, v = series.times, series.values[:, 0]
    # dv/dt = g - k v: the slope is linear in v with intercept g = 9.8 and slope -k.
    minus_k, g = np.polyfit(v, np.gradient(v, t), 1)
    assert g == pytest.approx(9.8, rel=1e-3)
    assert 0.1 <= -minus_k <= 0.3


def test_periodic_frequency_is_in_range():
    for series in periodic(10, n_points=400, noise=0.0, seed=2).series:
        values = series.values[:, 0]
        crossings = np.count_nonzero(np.diff(np.sign(values)) != 0)
        # Two zero crossings per period over 5 time units at 0.4-0.8 cycles per unit.
        assert 2 * 0.4 * 5 - 2 <= crossings <= 2 * 0.8 * 5 + 2
        assert np.abs(values).max() <= 1.0


def test_damped_oscillator_velocity_is_the_derivative_of_position():
    (series,) = damped_oscillator(1, n_points=2000, noise=0.0, missing=0.0, seed=4).series
    position, velocity = series.values[:, 0], series.values[:, 1]
    np.testing.assert_allclose(np.gradient(position, series.times), velocity, atol=2e-2)
    energy = velocity**2 + (position**2)  # decays (up to the ω² weighting) for a damped system
    assert energy[-200:].mean() < energy[:200].mean()


def test_spirals_are_noisy_versions_of_two_spirals():
    clean = spirals(20, noise=0.0, missing=0.0, seed=5)
    noisy = spirals(20, noise=0.3, missing=0.0, seed=5)
    # Same times and spirals under the same seed until the noise draw; the noise is about 0.3.
    residual = np.concatenate(
        [n.values - c.values for n, c in zip(noisy.series, clean.series, strict=True)]
    )
    assert 0.25 < residual.std() < 0.35
    centres = {round(float(np.sign(s.values[:, 0].mean()))) for s in clean.series}
    assert centres == {-1, 1}, "both the clockwise and the counter-clockwise spiral appear"


def test_van_der_pol_position_follows_its_ode():
    (series,) = van_der_pol(1, n_points=4000, noise=0.0, seed=3).series
    t, x = series.times, series.values[:, 0]
    v = np.gradient(x, t)
    a = np.gradient(v, t)
    # x'' + x = μ (1 - x²) x': regress the left side on (1 - x²) x' to recover μ in [0.5, 2].
    damping = (1.0 - x**2) * v
    mu = float(damping @ (a + x) / (damping @ damping))
    assert 0.45 <= mu <= 2.05
    residual = np.abs(a + x - mu * damping)
    assert np.percentile(residual, 90) < 0.05 * np.abs(a + x).std()
    assert 1.8 < np.abs(x[len(x) // 2 :]).max() < 2.2, "the limit cycle's amplitude is about 2"


# ----------------------------------------------------------------------------- long families


@pytest.mark.parametrize("family", sorted(LONG_FAMILIES))
def test_long_family_is_one_long_irregular_series_with_gaps(family):
    dataset = LONG_FAMILIES[family].generate(0)
    assert len(dataset) == 1 and dataset.dims == 1
    assert dataset.time_kind is TimeKind.NUMERIC
    (series,) = dataset.series
    assert len(series) == LONG_POINTS and series.mask.all()
    steps = np.diff(series.times)
    assert (steps > 0).all()
    assert steps.std() / steps.mean() > 0.5, "times must be irregular, not a grid"
    gaps = steps > 15 * np.median(steps)
    assert 3 <= gaps.sum() <= 5, "a few stretches with no observation"
    assert series.times[-1] - series.times[np.flatnonzero(gaps).max() + 1] > 0.1 * (
        series.times[-1] - series.times[0]
    ), "the end of the series, where benchmarks hold points out, has no gap"


@pytest.mark.parametrize("family", sorted(LONG_FAMILIES))
def test_long_family_is_deterministic_under_its_seed(family):
    generate = LONG_FAMILIES[family].generate
    (a,), (b,), (c,) = generate(7).series, generate(7).series, generate(8).series
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.times, c.times)
    assert not np.array_equal(a.values, c.values)


@pytest.mark.parametrize("family", sorted(LONG_FAMILIES))
def test_long_family_noise_is_added_to_the_same_clean_series(family):
    generate = LONG_FAMILIES[family].generate
    (noisy,), (clean,) = generate(3).series, generate(3, 0.0).series
    np.testing.assert_array_equal(noisy.times, clean.times)
    residual = noisy.values[:, 0] - clean.values[:, 0]
    assert residual.std() == pytest.approx(DEFAULT_NOISE[family], rel=0.1)
    assert LONG_FAMILIES[family].noise == DEFAULT_NOISE[family]


def test_trend_season_has_its_true_season_findable():
    for seed in range(3):
        (series,) = trend_season(seed).series
        season = find_season(series, TimeKind.NUMERIC)
        assert season == pytest.approx(LONG_FAMILIES["trend_season"].season, rel=0.03)


def test_drifting_oscillator_speeds_up_or_slows_down_to_its_final_period():
    for seed in range(4):
        (series,) = drifting_oscillator(seed, 0.0).series
        t, x = series.times, series.values[:, 0]
        crossings = t[1:][np.diff(np.sign(x)) != 0]
        periods = 2 * np.diff(crossings)
        first, last = np.median(periods[:10]), np.median(periods[-10:])
        assert last == pytest.approx(LONG_FAMILIES["drifting_oscillator"].season, rel=0.05)
        assert abs(first / last - 1) > 0.1, "the frequency drifts over the span"


def test_ornstein_uhlenbeck_is_exact_at_any_spacing():
    # On a grid of step 1, an exact step keeps the stationary variance σ²/2θ and the lag-one
    # correlation e^{-θ}; an Euler step would give 1.33 and 0.5 here.
    rng = np.random.default_rng(0)
    path = ornstein_uhlenbeck(rng, np.arange(40_000.0), theta=0.5, mean=0.3, sigma=1.0)
    assert path.mean() == pytest.approx(0.3, abs=0.05)
    assert path.var() == pytest.approx(1.0, rel=0.05)
    assert np.corrcoef(path[:-1], path[1:])[0, 1] == pytest.approx(np.exp(-0.5), abs=0.02)


def test_mean_reverting_has_no_season_and_reverts():
    assert LONG_FAMILIES["mean_reverting"].season is None
    (series,) = LONG_FAMILIES["mean_reverting"].generate(1, 0.0).series
    values = series.values[:, 0]
    crossings = np.count_nonzero(np.diff(np.sign(values - values.mean())) != 0)
    assert crossings > 20, "a mean-reverting path keeps coming back to its mean"


def test_mean_reverting_process_is_the_one_behind_its_path():
    # The path's exact likelihood is higher under the stated process than under one with θ
    # halved or doubled, μ moved by 0.6, σ moved by 20%, or the next seed's process.
    for seed in (0, 5):
        process = LONG_FAMILIES["mean_reverting"].process(seed)  # type: ignore[misc]
        assert process == mean_reverting_process(seed)
        (series,) = mean_reverting(seed, 0.0).series
        path = (series.times, series.values[:, 0])
        others = [
            replace(process, theta=process.theta * 2),
            replace(process, theta=process.theta / 2),
            replace(process, mean=process.mean + 0.6),
            replace(process, mean=process.mean - 0.6),
            replace(process, sigma=1.2),
            replace(process, sigma=0.8),
            mean_reverting_process(seed + 1),
        ]
        stated = _log_likelihood(process, *path)
        assert all(stated > _log_likelihood(other, *path) for other in others)


def _log_likelihood(process: OrnsteinUhlenbeck, times: np.ndarray, path: np.ndarray) -> float:
    """The exact log-likelihood (up to a constant) of a path [T] at ``times`` [T]."""
    decay = np.exp(-process.theta * np.diff(times))
    step_variance = process.sigma**2 * (1 - decay**2) / (2 * process.theta)
    innovation = path[1:] - process.mean - (path[:-1] - process.mean) * decay
    start = (path[0] - process.mean) ** 2 / process.variance + np.log(process.variance)
    return -0.5 * float(np.sum(innovation**2 / step_variance + np.log(step_variance)) + start)


def test_ornstein_uhlenbeck_covariance_is_its_stationary_law():
    process = OrnsteinUhlenbeck(theta=0.5, mean=0.3, sigma=1.0)
    times = np.array([0.0, 1.0, 3.0])
    covariance = process.covariance(times, times)
    np.testing.assert_allclose(np.diag(covariance), process.variance)
    assert covariance[0, 1] == pytest.approx(np.exp(-0.5))
    assert covariance[2, 0] == pytest.approx(np.exp(-1.5))
    rng = np.random.default_rng(0)
    paths = np.stack(
        [ornstein_uhlenbeck(rng, times, theta=0.5, mean=0.3, sigma=1.0) for _ in range(4000)]
    )
    np.testing.assert_allclose(np.cov(paths.T), covariance, atol=0.08)
