"""The pipeline's recipe (saved, loaded, refused), its forecasts of a series with gaps, and the
seasons its candidates are tried at."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from models.forecast.backtest import step_scale
from models.forecast.candidates import CANDIDATES, Variant
from models.forecast.intervals import GAUSSIAN, LeadVariance
from models.forecast.pipeline import (
    LeadBand,
    Recipe,
    backcast_moments,
    calendar_seasons,
    candidate_seasons,
    choose_forecast,
    choose_forecast_with_evidence,
    forecast,
    forecast_moments,
    lead_edges,
)
from models.forecast.policy import DEFAULT_POLICY
from models.seasons import DAY_S
from models.series import Series, TimeKind

SEASON = 12.0
YEAR_S = 365.25 * DAY_S  # 31,557,600 s
WEEK_S = 7 * DAY_S
LEVELS = (0.9, 0.1, 0.5)  # not sorted: quantiles are answered by level, not by position


def two_dimensions(seed: int, n: int = 240) -> Series:
    """A noisy season of 12 and a random walk at random times on [0, n], each missing about a
    fifth of its entries (never both in one row)."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, float(n), n))
    wave = 2 * np.sin(2 * np.pi * times / SEASON) + 0.5 * rng.normal(size=n)
    walk = np.cumsum(rng.normal(size=n))
    values = np.stack([wave, walk], axis=1)
    missing = rng.integers(0, 5, n)  # 0: the first is missing, 1: the second, else neither
    values[missing == 0, 0] = np.nan
    values[missing == 1, 1] = np.nan
    return Series(f"s{seed}", times, values)


def test_a_recipe_saved_as_json_and_loaded_forecasts_the_same():
    series = two_dimensions(0)
    recipe = choose_forecast([series, two_dimensions(1)], (SEASON,))
    assert recipe.dims[0].season == SEASON  # a recipe with a season and a ratio of each
    assert recipe.dims[1].season is None
    loaded = Recipe.from_json(json.loads(json.dumps(recipe.to_json())))
    assert json.dumps(loaded.to_json()) == json.dumps(recipe.to_json())
    assert loaded.policy == recipe.policy and loaded.seasons == recipe.seasons
    query = series.times[-1] + np.linspace(0.5, 30.0, 20)
    mean, quantiles = forecast(recipe, series, query, LEVELS)
    mean_again, quantiles_again = forecast(loaded, series, query, LEVELS)
    np.testing.assert_array_equal(mean_again, mean)
    for level in LEVELS:
        np.testing.assert_array_equal(quantiles_again[level], quantiles[level])


def test_a_recipe_of_another_version_or_an_unknown_candidate_is_refused_by_name():
    saved = choose_forecast([two_dimensions(2)], (SEASON,)).to_json()
    other = {**json.loads(json.dumps(saved)), "version": 9}
    with pytest.raises(ValueError, match="version 9"):
        Recipe.from_json(other)
    older = {**json.loads(json.dumps(saved)), "version": 1}  # before family candidates
    for dim in older["dims"]:
        dim.pop("family")
        dim.pop("quantiles")  # versions 1 and 2: Gaussian quantiles
        dim.pop("beyond")  # versions 1 to 3: one choice for every lead
        for field in ("partner", "partner_season", "partner_log"):
            dim.pop(field)  # versions 1 to 4: the chosen candidate serves alone
    older["policy"].pop("shape_half_life")  # versions 1 to 3: every cycle alike
    older["policy"].pop("lead_band_growth")
    older["policy"].pop("combine_best")
    as_gaussian = [
        replace(d, quantiles=GAUSSIAN, partner=None, partner_season=None, partner_log=False)
        for d in Recipe.from_json(saved).dims
    ]
    assert list(Recipe.from_json(older).dims) == as_gaussian
    assert Recipe.from_json(older).policy.shape_half_life is None
    assert Recipe.from_json(older).policy.lead_band_growth is None
    family = json.loads(json.dumps(saved))
    family["dims"][0]["candidate"] = "family_shape"  # a family candidate without its curve
    with pytest.raises(ValueError, match="family_shape"):
        Recipe.from_json(family)
    unknown = json.loads(json.dumps(saved))
    unknown["dims"][1]["candidate"] = "prophet"
    with pytest.raises(ValueError, match="prophet"):
        Recipe.from_json(unknown)
    unknown_partner = json.loads(json.dumps(saved))
    unknown_partner["dims"][0]["partner"] = "auto_arima"
    with pytest.raises(ValueError, match="auto_arima"):
        Recipe.from_json(unknown_partner)
    seasonless = json.loads(json.dumps(saved))
    seasonless["dims"][1].update(partner="seasonal_naive", partner_season=None)
    with pytest.raises(ValueError, match="seasonal_naive"):
        Recipe.from_json(seasonless)


def test_a_recipe_with_partners_round_trips_and_serves_alone_from_a_version_4_recipe():
    series = noisy_season(0)
    recipe = choose_forecast([series], (SEASON,))
    assert recipe.dims[0].partner is not None  # this series' choice is combined
    saved = recipe.to_json()
    loaded = Recipe.from_json(json.loads(json.dumps(saved)))
    assert json.dumps(loaded.to_json()) == json.dumps(saved)
    assert loaded.dims[0].variant().label == recipe.dims[0].variant().label
    query = series.times[-1] + np.array([1.0, 7.0])
    np.testing.assert_array_equal(
        forecast(loaded, series, query, LEVELS)[0], forecast(recipe, series, query, LEVELS)[0]
    )
    older = {**json.loads(json.dumps(saved)), "version": 4}
    for field in ("partner", "partner_season", "partner_log"):
        older["dims"][0].pop(field)
    older["policy"].pop("combine_best")
    alone = Recipe.from_json(older)
    assert (
        alone.dims[0].partner is None
        and alone.dims[0].variant().label == recipe.dims[0].variant().first.label
    )


def noisy_season(seed: int, n: int = 120) -> Series:
    rng = np.random.default_rng(seed)
    times = np.arange(float(n))
    trend = 0.05 * times + np.cumsum(0.3 * rng.normal(size=n))
    wave = 2 * np.sin(2 * np.pi * times / SEASON) + rng.normal(size=n)
    return Series(f"season{seed}", times, (trend + wave)[:, None])


def test_a_chosen_candidate_serves_as_its_mean_with_the_best_unless_it_is_the_simplest():
    """Where the rule chose neither the simplest candidate nor the best, the forecast is the
    mean of the two (its intervals calibrated on that mean's backtest errors); without
    ``combine_best`` the chosen one serves alone."""
    combined = 0
    for seed in range(6):
        series = noisy_season(seed)
        recipe, (evidence,) = choose_forecast_with_evidence([series], (SEASON,))
        dim = recipe.dims[0]
        chosen = Variant(CANDIDATES[dim.candidate], dim.season, dim.log)
        alone = replace(recipe, dims=(replace(dim, partner=None),))
        if dim.partner is None:
            assert dim.candidate == "last_value" or chosen.label == dim.best
            continue
        combined += 1
        assert dim.variant().label == f"{chosen.label}+{dim.best}"
        assert dim.variant().label in evidence.candidates()
        query = series.times[-1] + np.array([1.0, 6.0, 11.0])
        best = next(v for v in evidence.variants.values() if v.label == dim.best)
        expected = (
            chosen.fit(series.times, series.values[:, 0], recipe.policy)(query)
            + best.fit(series.times, series.values[:, 0], recipe.policy)(query)
        ) / 2
        np.testing.assert_allclose(forecast_moments(recipe, series, query)[0][:, 0], expected)
        assert not np.allclose(forecast_moments(alone, series, query)[0][:, 0], expected)
        single = choose_forecast([series], (SEASON,), replace(DEFAULT_POLICY, combine_best=False))
        assert single.dims[0].partner is None and single.dims[0].candidate == dim.candidate
    assert combined >= 2


def test_forecasts_of_a_series_with_gaps_answer_every_dimension_with_ordered_quantiles():
    series = two_dimensions(3)
    recipe = choose_forecast([series], (SEASON,))
    query = series.times[-1] + np.linspace(0.5, 30.0, 20)
    mean, quantiles = forecast(recipe, series, query, LEVELS)
    assert mean.shape == (20, 2)
    assert np.isfinite(mean).all()
    assert sorted(quantiles) == sorted(LEVELS)
    for level in LEVELS:
        assert quantiles[level].shape == (20, 2)
    np.testing.assert_allclose(quantiles[0.5], mean)
    assert np.all(quantiles[0.1] < quantiles[0.5])
    assert np.all(quantiles[0.5] < quantiles[0.9])
    width = quantiles[0.9] - quantiles[0.1]
    # an interval never narrows with the lead (a seasonal naive forecast's may stay as wide)
    assert np.all(np.diff(width, axis=0) >= -1e-12)


def test_a_dimension_the_context_never_observes_answers_nan_and_leaves_the_others_alone():
    series = two_dimensions(4)
    recipe = choose_forecast([series], (SEASON,))
    only_first = Series("c", series.times, series.values.copy())
    only_first.values[:, 1] = np.nan
    rows = ~np.isnan(only_first.values[:, 0])
    only_first = Series("c", series.times[rows], only_first.values[rows])
    query = series.times[-1] + np.array([1.0, 5.0])
    mean, quantiles = forecast(recipe, only_first, query, LEVELS)
    assert np.isnan(mean[:, 1]).all() and np.isnan(quantiles[0.9][:, 1]).all()
    np.testing.assert_array_equal(mean[:, 0], forecast(recipe, series, query, LEVELS)[0][:, 0])


def test_monthly_datetime_data_try_a_year_and_not_a_week():
    starts = [datetime(2010 + m // 12, m % 12 + 1, 1, tzinfo=UTC) for m in range(120)]
    times = np.array([s.timestamp() for s in starts])
    rng = np.random.default_rng(5)
    values = np.sin(2 * np.pi * times / YEAR_S) + 0.3 * rng.normal(size=len(times))
    seasons = candidate_seasons([Series("m", times, values[:, None])], TimeKind.DATETIME)
    assert YEAR_S == 31_557_600.0
    assert YEAR_S in seasons
    assert WEEK_S not in seasons and DAY_S not in seasons
    assert seasons == (YEAR_S,)  # the periodogram's year is the calendar's, not a second one


def test_numeric_data_try_the_season_they_have_and_none_without_one():
    rng = np.random.default_rng(6)
    times = np.sort(rng.uniform(0.0, 240.0, 240))
    noise = rng.normal(size=240)
    assert candidate_seasons([Series("n", times, noise[:, None])], TimeKind.NUMERIC) == ()
    wave = 2 * np.sin(2 * np.pi * times / SEASON) + noise
    (season,) = candidate_seasons([Series("s", times, wave[:, None])], TimeKind.NUMERIC)
    assert season == pytest.approx(SEASON, rel=0.02)


def yearly_with_weather(seed: int, days: int = 1500) -> Series:
    """Daily values at datetime times (seconds): a year's season of amplitude 10 plus persistent
    day-to-day weather (an AR(1) of coefficient 0.95 and unit innovations)."""
    rng = np.random.default_rng(seed)
    times = np.arange(float(days))
    weather = np.zeros(days)
    for i in range(1, days):
        weather[i] = 0.95 * weather[i - 1] + rng.normal()
    values = 10 * np.sin(2 * np.pi * times / 365.25) + weather
    return Series(f"days{seed}", times * DAY_S, values[:, None])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leads_past_the_first_horizon_are_chosen_for_on_their_own_backtest_errors(seed):
    """Backtested a week ahead, the simplest candidates do about as well as any (the weather
    persists); half a year ahead only the year's season is known, and the bands' choices, made
    on those leads' errors, forecast it: nearer the season than the week's choice."""
    series = yearly_with_weather(seed)
    seasons = (7 * DAY_S, 365.25 * DAY_S)
    recipe = choose_forecast([series], seasons, time_kind=TimeKind.DATETIME)
    one = choose_forecast(
        [series], seasons, replace(DEFAULT_POLICY, lead_band_growth=None), TimeKind.DATETIME
    )
    dim = recipe.dims[0]
    assert one.dims[0].beyond == ()
    # bands from a week, doubling, to an eighth of the span (187.5 days)
    assert [band.after / DAY_S for band in dim.beyond] == [7.0, 14.0, 28.0, 56.0, 112.0]
    assert dim.beyond[-1].season == 365.25 * DAY_S
    query = series.times[-1] + np.arange(1.0, 181.0) * DAY_S
    season = 10 * np.sin(2 * np.pi * query / DAY_S / 365.25)
    by_bands = forecast(recipe, series, query, ())[0][:, 0]
    by_one = forecast(one, series, query, ())[0][:, 0]
    assert np.mean((by_bands - season) ** 2) < np.mean((by_one - season) ** 2)
    loaded = Recipe.from_json(json.loads(json.dumps(recipe.to_json())))
    assert loaded.dims[0].beyond == dim.beyond
    np.testing.assert_array_equal(forecast(loaded, series, query, ())[0][:, 0], by_bands)


def test_lead_bands_reach_only_to_seasons_the_calendar_gives():
    """The same series at numeric times: its year is a season the periodogram would estimate,
    not one the calendar gives, and no band reaches out to it."""
    series = yearly_with_weather(0)
    numeric = Series(series.id, series.times / DAY_S, series.values)
    assert choose_forecast([numeric], (7.0, 365.25)).dims[0].beyond == ()
    assert calendar_seasons((7 * DAY_S, 365.25 * DAY_S, 40 * DAY_S), TimeKind.DATETIME) == (
        7 * DAY_S,
        365.25 * DAY_S,
    )
    assert calendar_seasons((7.0, 365.25), TimeKind.NUMERIC) == ()


def test_each_lead_is_served_by_its_bands_choice_and_variance():
    """A recipe serving the last value, then drift from a lead of 5 with a variance of its own,
    then a season of 400 (too long for the context: the nearer band's drift serves on) from 10:
    a lead of exactly 5 is the nearer band's, every lead after it the band's."""
    times = np.arange(50.0)
    series = Series("line", times, (2.0 * times)[:, None])  # a line: drift continues it
    recipe = choose_forecast([series], ())
    dim = recipe.dims[0]
    wide = LeadVariance(100.0, 0.0, 1.0)
    drift = LeadBand(5.0, "drift", None, False, wide, "drift", {}, 1.0, 6, "a band")
    seasonal = replace(drift, after=10.0, candidate="seasonal_naive", season=400.0)
    banded = replace(recipe, dims=(replace(dim, candidate="last_value", beyond=(drift, seasonal)),))
    leads = np.array([1.0, 5.0, 6.0, 12.0])
    mean, variance = forecast_moments(banded, series, times[-1] + leads)
    np.testing.assert_allclose(mean[:, 0], [98.0, 98.0, 110.0, 122.0])
    nearest = dim.variance(np.array([1.0, 5.0]), step_scale(series.values[:, 0]))
    np.testing.assert_allclose(variance[:2, 0], nearest)
    np.testing.assert_allclose(variance[2:, 0], 100.0 * step_scale(series.values[:, 0]) ** 2)


@pytest.mark.parametrize(
    ("first", "longest", "edges"),
    [
        (7.0, 365.25, [7.0, 14.0, 28.0, 56.0, 112.0, 224.0, 365.25]),
        (1.0, 2.05, [1.0, 2.05]),  # within SAME_PERIOD of a doubling: merged into it
        (1.0, 3.0, [1.0, 2.0, 3.0]),
    ],
)
def test_lead_band_edges_double_from_the_first_horizon_to_the_longest(first, longest, edges):
    assert lead_edges(first, longest, 2.0) == pytest.approx(edges)


@pytest.mark.parametrize("seed", range(3))
def test_a_backcast_runs_a_trend_and_a_season_back_in_time_and_keeps_a_walks_first_value(seed):
    rng = np.random.default_rng(seed)
    times = np.arange(200.0)
    trend = times + rng.normal(size=200)
    season = 3 * np.sin(2 * np.pi * times / SEASON) + 0.2 * rng.normal(size=200)
    walk = np.cumsum(rng.normal(size=200))
    cut = 12  # the first season is what the backcast must answer
    for values, better in ((trend, 0.3), (season, 0.3), (walk, None)):
        context = Series("s", times[cut:], values[cut:, None])
        recipe = choose_forecast([context], candidate_seasons([context], TimeKind.NUMERIC))
        mean, variance = backcast_moments(recipe, context, times[:cut])
        flat = values[cut]  # the first observed value: linear interpolation's answer there
        error = np.mean((mean[:, 0] - values[:cut]) ** 2)
        if better is None:  # a random walk is backcast by its first value, as it is forecast
            if recipe.dims[0].candidate == "last_value" and recipe.dims[0].partner is None:
                np.testing.assert_allclose(mean[:, 0], flat)
        else:
            assert error < better * np.mean((flat - values[:cut]) ** 2), recipe.dims[0]
        assert np.all(np.diff(variance[:, 0]) <= 1e-12)  # the farther back, the wider
