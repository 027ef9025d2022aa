"""The family candidates: a family's mean curve, left out one series at a time, and forecasts
from it chosen where the curves share a course no single series shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.forecast.family import (
    FAMILY_MEAN,
    FAMILY_SCALED,
    FAMILY_SHAPE,
    MeanCurve,
    family_variant,
    family_variants,
)
from models.forecast.intervals import LeadVariance
from models.forecast.pipeline import (
    Recipe,
    backcast_moments,
    choose_forecast,
    forecast,
    forecast_moments,
)
from models.forecast.policy import Policy
from models.series import Series, TimeKind

POLICY = Policy()


def test_the_mean_curve_averages_the_series_inside_their_own_ranges():
    a = (np.array([0.0, 2.0, 4.0]), np.array([0.0, 2.0, 4.0]))
    b = (np.array([0.0, 4.0]), np.array([10.0, 10.0]))
    c = (np.array([2.0, 3.0]), np.array([5.0, 7.0]))  # holds times 2 to 3 only
    curve = MeanCurve.fit([a, b, c], points=256)
    assert curve.times.tolist() == [0.0, 2.0, 3.0, 4.0]
    assert curve.counts.tolist() == [2.0, 3.0, 3.0, 2.0]
    np.testing.assert_allclose(curve(np.array([0.0, 2.0, 3.0, 4.0])), [5.0, 17 / 3, 20 / 3, 7.0])
    np.testing.assert_allclose(curve(np.array([-1.0, 9.0])), [5.0, 7.0])  # flat beyond
    without = curve.without(*c)
    np.testing.assert_allclose(without(curve.times), MeanCurve.fit([a, b], 256)(curve.times))
    with pytest.raises(ValueError, match="no series"):
        MeanCurve.fit([a], 256).without(*a)(np.array([1.0]))
    loaded = MeanCurve.from_json(json.loads(json.dumps(curve.to_json())))
    np.testing.assert_array_equal(loaded(curve.times), curve(curve.times))
    coarse = MeanCurve.fit([(np.linspace(0, 1, 1000), np.zeros(1000))], points=50)
    assert len(coarse.times) <= 50 and coarse.times[0] == 0.0 and coarse.times[-1] == 1.0


def test_the_shape_goes_through_the_last_observation_and_the_mean_ignores_it():
    curve = MeanCurve.fit([(np.array([0.0, 10.0]), np.array([0.0, 10.0]))], 256)
    times, values = np.array([0.0, 4.0]), np.array([3.0, 7.0])  # 3 above the family at t = 4
    query = np.array([6.0, 8.0])
    shape = family_variant(FAMILY_SHAPE, curve).fit(times, values, POLICY)
    np.testing.assert_allclose(shape(query), [9.0, 11.0])
    mean = family_variant(FAMILY_MEAN, curve).fit(times, values, POLICY)
    np.testing.assert_allclose(mean(query), [6.0, 8.0])
    scaled = family_variant(FAMILY_SCALED, curve).fit(times, values, POLICY)
    np.testing.assert_allclose(scaled(query), [10.5, 14.0])  # 7 / 4 times the family
    with pytest.raises(ValueError, match="positive"):
        family_variant(FAMILY_SCALED, curve).fit(times, -values, POLICY)
    assert family_variants(None) == []
    labels = [v.label for v in family_variants(curve)]
    assert labels == [FAMILY_MEAN, FAMILY_SHAPE, FAMILY_SCALED]


def _decay_family(n: int, seed: int) -> list[Series]:
    """Curves that rise and fall alike at irregular times (a dose's course), each at its own
    level: no one curve's past shows its fall."""
    rng = np.random.default_rng(seed)
    family = []
    for i in range(n):
        times = np.sort(rng.uniform(0.0, 24.0, 14))
        course = 10.0 * (np.exp(-0.15 * times) - np.exp(-1.5 * times))
        level = rng.normal(0.0, 0.3)
        values = course + level + rng.normal(0.0, 0.05, len(times))
        family.append(Series(f"c{i}", times, values[:, None]))
    return family


def test_a_family_sharing_a_course_is_forecast_from_it_and_a_calendar_panel_is_not():
    family = _decay_family(20, seed=0)
    recipe = choose_forecast(family, ())
    dim = recipe.dims[0]
    assert dim.candidate in (FAMILY_MEAN, FAMILY_SHAPE, FAMILY_SCALED), dim
    assert dim.family is not None
    loaded = Recipe.from_json(json.loads(json.dumps(recipe.to_json())))
    assert loaded.dims[0].candidate == dim.candidate
    # a new curve read up to its peak: the family says where it goes
    new = _decay_family(1, seed=1)[0]
    early = Series(new.id, new.times[new.times < 6.0], new.values[new.times < 6.0])
    later = new.times[new.times >= 6.0]
    mean, _ = forecast_moments(loaded, early, later)
    last = early.values[-1, 0]
    assert np.mean((mean[:, 0] - new.values[new.times >= 6.0, 0]) ** 2) < 0.2 * np.mean(
        (last - new.values[new.times >= 6.0, 0]) ** 2
    )
    panel = choose_forecast(family, (), time_kind=TimeKind.DATETIME)
    assert not panel.dims[0].candidate.startswith("family")
    assert panel.dims[0].family is None
    few = choose_forecast(family[:2], ())  # fewer series than a family needs
    assert few.dims[0].family is None and "family_mean" not in few.dims[0].ratios


def _three_point_family(n: int, seed: int) -> list[Series]:
    """Curves of a dose's course, each read at 3 random times."""
    rng = np.random.default_rng(seed)
    family = []
    for i in range(n):
        times = np.sort(rng.uniform(0.0, 24.0, 3))
        course = 10.0 * (np.exp(-0.15 * times) - np.exp(-1.5 * times))
        family.append(Series(f"c{i}", times, (course + rng.normal(0.0, 0.1, 3))[:, None]))
    return family


def test_a_few_curves_of_three_points_are_cross_validated_over_curves():
    """A curve's last point, forecast from its first two, is one unit of evidence (the mean
    curve without that curve): 8 curves of 3 points choose the family's course over the last
    value, though no curve has the points for a second origin."""
    dim = choose_forecast(_three_point_family(8, seed=3), ()).dims[0]
    assert dim.candidate in (FAMILY_MEAN, FAMILY_SHAPE, FAMILY_SCALED), dim.reason
    assert dim.origins >= 3


def test_origins_fitted_on_two_points_do_not_set_the_intervals():
    """A scale from one change can be 0 (a flat start): the errors of such an origin would be
    infinite in steps and widen every curve's interval. Such origins choose, never calibrate;
    without other origins the intervals are a random walk's, in the context's steps."""
    flat_start = Series("flat", np.array([1.0, 4.0, 20.0]), np.array([[2.0], [2.0], [1.0]]))
    family = [*_three_point_family(8, seed=3), flat_start]
    recipe = choose_forecast(family, ())
    assert recipe.dims[0].variance == LeadVariance(1.0, 1.0, 1.0)
    context = family[0]
    _, quantiles = forecast(recipe, context, np.array([30.0]), (0.1, 0.9))
    width = float(quantiles[0.9][0, 0] - quantiles[0.1][0, 0])
    assert 0 < width < 10 * float(np.ptp(context.values))
    single = choose_forecast([flat_start], ()).dims[0]  # one origin: no evidence for a width
    assert single.variance == LeadVariance(1.0, 1.0, 1.0)


def test_a_dimension_served_by_a_family_candidate_has_no_backcast():
    family = _decay_family(20, seed=0)
    recipe = choose_forecast(family, ())
    assert recipe.dims[0].candidate in (FAMILY_MEAN, FAMILY_SHAPE, FAMILY_SCALED)
    mean, variance = backcast_moments(recipe, family[0], family[0].times[:1] - 1.0)
    assert np.isnan(mean).all() and np.isnan(variance).all()  # the model answers there
