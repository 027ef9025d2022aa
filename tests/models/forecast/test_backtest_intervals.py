"""Rolling-origin backtests (where the origins fall, what each may see) and the intervals
calibrated on them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from models.forecast.backtest import backtest, pooled
from models.forecast.candidates import variants
from models.forecast.intervals import (
    GAUSSIAN,
    ResidualQuantiles,
    fit_lead_variance,
    fit_residual_quantiles,
)
from models.forecast.pipeline import choose_forecast, forecast
from models.forecast.policy import DEFAULT_POLICY, Policy
from models.series import Series


def walk(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian random walk of unit variance per time unit at exponential gaps (mean 1)."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1.0, n))
    return times, np.cumsum(rng.normal(size=n) * np.sqrt(np.diff(times, prepend=0.0)))


def run(times: np.ndarray, values: np.ndarray, policy: Policy = DEFAULT_POLICY):
    return backtest(times, values, (), variants(times, values, (), policy), policy)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (DEFAULT_POLICY, 21),  # room for 56 steps of 3: at most 6 horizons, (6 - 1) x 4 + 1
        (Policy(origin_steps=1), 6),  # room for 14 horizons: at most `origins`
        (Policy(origins=3, min_origins=2, origin_steps=1), 3),
        (Policy(min_fit_share=0.8, origin_steps=1), 4),  # (0.2 x 299 - 12) / 12 + 1 = 4.98
        (Policy(min_fit_share=0.8), 16),  # (0.2 x 299 - 12) / 3 + 1 = 16.9: the fit share binds
    ],
    ids=["default", "one per horizon", "three origins", "fit share", "fit share, overlapping"],
)
def test_origins_step_back_a_share_of_the_horizon_from_the_end(policy, expected):
    """On a grid of 300 unit steps the horizon is 12 steps; consecutive origins are 12 /
    ``origin_steps`` apart and the latest one's last fitted time is ``end - 12``."""
    times = np.arange(300.0)
    values = np.random.default_rng(0).normal(size=300).cumsum()
    result = run(times, values, policy)
    step = 12 // policy.origin_steps
    assert result.horizon == policy.horizon_points == 12
    assert len(result.origins) == expected
    cuts = []
    for origin in result.origins:
        assert len(origin.leads) == 12  # every point of the horizon after the cut
        assert np.all((origin.leads > 0) & (origin.leads <= result.horizon))
        targets = np.flatnonzero(np.isin(values, origin.truth))
        np.testing.assert_allclose(times[targets] - origin.leads, targets[0] - 1)
        cuts.append(targets[0] - 1)
    np.testing.assert_array_equal(cuts, 299 - 12 - step * np.arange(expected - 1, -1, -1))
    span = times[-1] - times[0]
    assert cuts[0] - times[0] >= policy.min_fit_share * span
    assert cuts[-1] - cuts[0] <= (policy.origins - 1) * 12  # at most `origins` horizons
    if cuts[-1] - cuts[0] < (policy.origins - 1) * 12:  # one more would leave too little
        assert cuts[0] - step - times[0] < policy.min_fit_share * span


def test_complete_origins_drop_the_earliest_where_a_season_cannot_be_fitted():
    """Five seasons of 12 points: the earliest origins hold under two seasons, so the seasonal
    variants are missing there; ``complete`` keeps the later origins, where every variant has a
    forecast, and the seasonal variants stay candidates."""
    times = np.arange(60.0)
    values = np.sin(2 * np.pi * times / 12) + np.random.default_rng(0).normal(0, 0.1, 60)
    found = variants(times, values, (12.0,), DEFAULT_POLICY)
    every = backtest(times, values, (12.0,), found, DEFAULT_POLICY)
    assert "seasonal_naive@12" not in every.candidates()
    complete = every.complete(DEFAULT_POLICY.min_origins)
    assert "seasonal_naive@12" in complete.candidates()
    assert 0 < len(complete.origins) < len(every.origins)
    assert complete.origins == every.origins[len(every.origins) - len(complete.origins) :]
    assert every.complete(len(every.origins)) is every  # too few would remain: all are kept


def test_within_keeps_each_origins_targets_at_the_bands_leads_only():
    """A walk on a grid of 1, backtested 12 ahead, its origins 3 apart: leads in (4, 8] keep 4
    targets an origin, each candidate's forecasts of exactly those; a band past the horizon
    keeps no origin."""
    times, values = np.arange(300.0), np.cumsum(np.random.default_rng(1).normal(size=300))
    every = run(times, values)
    band = every.within(4.0, 8.0)
    assert len(band.origins) == len(every.origins)
    for whole, part in zip(every.origins, band.origins, strict=True):
        np.testing.assert_array_equal(part.leads, [5.0, 6.0, 7.0, 8.0])
        np.testing.assert_array_equal(part.truth, whole.truth[4:8])
        for name, forecasts in part.forecasts.items():
            np.testing.assert_array_equal(forecasts, whole.forecasts[name][4:8])
    assert every.within(12.0, 24.0).origins == ()


def test_no_target_lies_at_or_before_its_origins_last_fitted_observation():
    """At irregular times a lead (from the last fitted observation) may pass one horizon
    (here 1.3 of them, after the gap over the third cut at 265.3), but every target comes after that
    observation and within one horizon of the others."""
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0.0, 300.0, 300))
    times = times[(times < 262.0) | (times > 268.0)]
    values = rng.normal(size=len(times)).cumsum()
    result = run(times, values)
    assert len(result.origins) == DEFAULT_POLICY.most_origins == 21
    for origin in result.origins:
        assert np.all(origin.leads > 0)
        targets = np.flatnonzero(np.isin(values, origin.truth))
        np.testing.assert_array_equal(np.diff(targets), 1)  # the observations after a cut
        last_fitted = times[targets] - origin.leads
        np.testing.assert_allclose(last_fitted, times[targets[0] - 1])
        assert times[targets[-1]] - times[targets[0]] <= result.horizon
    assert max(o.leads.max() for o in result.origins) > 1.25 * result.horizon  # across the gap


def test_an_origins_forecasts_do_not_see_past_its_cut():
    """Changing everything from an origin's first target on changes none of its forecasts."""
    times, values = walk(2)
    result = run(times, values)
    for k, origin in enumerate(result.origins):
        first = np.flatnonzero(np.isin(values, origin.truth))[0]
        changed = values.copy()
        changed[first:] += 100.0 * np.sin(np.arange(len(values) - first))
        again = run(times, changed)
        for label, forecasts in origin.forecasts.items():
            np.testing.assert_array_equal(again.origins[k].forecasts[label], forecasts, label)
        assert not np.array_equal(again.origins[k].truth, origin.truth)


def test_a_random_walks_forecast_variance_grows_with_the_lead_and_white_noises_does_not():
    """The last value's error variance on a walk is its lead in time units; over step scales
    about 1 (mean gap 1), at a lead of one horizon it is about the horizon."""
    walks, noises = [], []
    for seed in range(10):
        times, values = walk(seed)
        walks.append(run(times, values))
        noises.append(run(times, np.random.default_rng(seed).normal(size=len(times))))
    on_walks = fit_lead_variance(pooled(walks), "last_value", DEFAULT_POLICY)
    assert on_walks.slope > 0
    assert on_walks.slope > on_walks.intercept  # 10.6 and 0.02 observed
    one_horizon = on_walks.intercept + on_walks.slope
    assert 0.5 * on_walks.horizon < one_horizon < 2 * on_walks.horizon  # 10.6 for 10.9
    on_noise = fit_lead_variance(pooled(noises), "last_value", DEFAULT_POLICY)
    assert on_noise.slope < 0.5 * on_noise.intercept  # 0 and 1.16 observed
    assert on_noise.intercept + on_noise.slope == pytest.approx(1.0, abs=0.3)  # var 2 / scale 2


def test_80_percent_intervals_cover_held_out_random_walk_continuations():
    """Fitted on 300 points, forecast over the next horizon (about 8 points) of 80 walks: 76.8%
    of 676 held-out points fell inside the 10%-90% interval. Points of one walk are correlated,
    so the check allows 0.65-0.92 (blocks of 100 seeds gave 0.76-0.82)."""
    inside = []
    for seed in range(80):
        times, values = walk(seed, 330)
        past = Series("w", times[:300], values[:300, None])
        recipe = choose_forecast([past], ())
        ahead = times[300:] <= times[299] + recipe.dims[0].variance.horizon
        _, quantiles = forecast(recipe, past, times[300:][ahead], (0.1, 0.9))
        truth = values[300:][ahead]
        inside.append((quantiles[0.1][:, 0] <= truth) & (truth <= quantiles[0.9][:, 0]))
    coverage = np.concatenate(inside).mean()
    assert 0.65 <= coverage <= 0.92, coverage


def test_gaussian_quantiles_are_the_standard_normals():
    levels = np.array([0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])
    np.testing.assert_allclose(GAUSSIAN(levels), stats.norm.ppf(levels), rtol=1e-9, atol=1e-12)


def test_residual_quantiles_are_the_sizes_between_and_scaled_as_a_normals_beyond():
    quantiles = ResidualQuantiles((0.5, 1.1, 1.7, 2.5))
    np.testing.assert_allclose(
        quantiles(np.array([0.25, 0.1, 0.05, 0.025])), [-0.5, -1.1, -1.7, -2.5]
    )
    np.testing.assert_allclose(quantiles(np.array([0.75, 0.9, 0.95, 0.975])), [0.5, 1.1, 1.7, 2.5])
    assert quantiles(np.array([0.5]))[0] == 0.0
    beyond = quantiles(np.array([0.995]))[0]
    assert beyond == pytest.approx(2.5 * stats.norm.ppf(0.995) / stats.norm.ppf(0.975))
    within = quantiles(np.array([0.6]))[0]
    assert within == pytest.approx(0.5 * stats.norm.ppf(0.6) / stats.norm.ppf(0.75))
    levels = np.linspace(0.001, 0.999, 999)
    assert np.all(np.diff(quantiles(levels)) > 0)  # increasing in the level


def test_heavy_tailed_backtest_errors_give_narrower_middles_and_wider_tails():
    """White noise of Student's t with 3 degrees of freedom, forecast by its mean: the
    standardised errors' middle half lies closer than a normal's, their 95% farther out; a
    series too short for ``quantile_residuals`` residuals keeps the Gaussian."""
    rng = np.random.default_rng(0)
    times = np.arange(2000.0)
    values = rng.standard_t(3, 2000)
    policy = DEFAULT_POLICY  # 21 origins of 12 points: 252 residuals
    found = variants(times, values, (), policy)
    result = backtest(times, values, (), found, policy)
    variance = fit_lead_variance(result, "mean_reversion", policy)
    quantiles = fit_residual_quantiles(result, "mean_reversion", variance, policy)
    assert quantiles.sizes[0] < GAUSSIAN.sizes[0]  # 50%
    assert quantiles.sizes[-1] > GAUSSIAN.sizes[-1]  # 95%
    few = Policy(quantile_residuals=253)
    assert fit_residual_quantiles(result, "mean_reversion", variance, few) is GAUSSIAN
