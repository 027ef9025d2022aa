"""Synthetic families: shapes, irregular sampling, missing entries, determinism, true dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from models.synthetic import (
    FAMILIES,
    damped_oscillator,
    drop_at_random,
    falling_object,
    periodic,
    spirals,
)

DIMS = {"falling_object": 1, "spirals": 2, "periodic": 1, "damped_oscillator": 2}


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
