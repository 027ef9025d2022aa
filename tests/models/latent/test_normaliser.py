"""The normaliser: standardisation and time scale fitted on training data, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from models.latent.normaliser import DEFAULT_MODEL_SPAN, Normaliser
from models.series import Dataset, Series, TimeKind
from models.synthetic import damped_oscillator, drifting_oscillator, trend_season


def test_values_round_trip_and_are_standardised_over_observed_entries():
    dataset = damped_oscillator(20, seed=0)
    normaliser = Normaliser.fit(dataset)
    values = np.concatenate([s.values for s in dataset.series])
    standardised = normaliser.values(values)
    np.testing.assert_allclose(np.nanmean(standardised, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(standardised, axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(normaliser.raw_values(standardised), values, rtol=1e-12)
    assert np.isnan(standardised).sum() == np.isnan(values).sum()


def test_raw_values_in_place_and_from_float32_match_the_formula():
    normaliser = Normaliser.fit(damped_oscillator(5, seed=1))
    samples = np.random.default_rng(0).normal(size=(7, 5, 2))
    expected = samples * np.asarray(normaliser.std) + np.asarray(normaliser.mean)
    single = samples.astype(np.float32)
    from_single = normaliser.raw_values(single)
    assert from_single.dtype == np.float64  # computed in float64, as the formula does
    np.testing.assert_array_equal(
        from_single, single * np.asarray(normaliser.std) + normaliser.mean
    )
    in_place = samples.copy()
    assert normaliser.raw_values(in_place, out=in_place) is in_place
    np.testing.assert_array_equal(in_place, expected)
    transposed = np.ascontiguousarray(samples.transpose(1, 0, 2)).transpose(1, 0, 2)
    np.testing.assert_array_equal(normaliser.raw_values(transposed), expected)


def test_the_median_series_span_becomes_the_model_span():
    dataset = damped_oscillator(9, seed=1)
    normaliser = Normaliser.fit(dataset)
    spans = [normaliser.times(s.times, s.times[0])[-1] for s in dataset.series]
    assert np.median(spans) == np.float64(DEFAULT_MODEL_SPAN)


def test_a_constant_dimension_is_not_divided_by_zero():
    series = Series("a", np.array([0.0, 1.0, 2.0]), np.array([[3.0], [3.0], [3.0]]))
    normaliser = Normaliser.fit(Dataset((series,), TimeKind.NUMERIC))
    np.testing.assert_array_equal(normaliser.values(series.values), 0.0)


def test_json_round_trip():
    normaliser = Normaliser.fit(damped_oscillator(5, seed=2))
    assert Normaliser.from_json(normaliser.to_json()) == normaliser


def test_a_steady_season_bends_its_trend_and_a_drifted_one_keeps_a_line():
    steady = Normaliser.fit(trend_season(0))
    drifted = Normaliser.fit(drifting_oscillator(4))  # a seed whose season is found whole
    assert steady.base and steady.bends
    assert drifted.base and not drifted.bends
    (series,) = drifting_oscillator(4).series
    fitted = drifted.fit_base(series)
    assert fitted is not None and fitted.knots == ()
    fitted = steady.fit_base(trend_season(0).series[0])
    assert fitted is not None and len(fitted.knots) > 5


def test_a_model_saved_before_knots_keeps_its_line():
    saved = Normaliser.fit(trend_season(0)).to_json()
    del saved["bends"]
    normaliser = Normaliser.from_json(saved)
    assert normaliser.base and not normaliser.bends
    fitted = normaliser.fit_base(trend_season(0).series[0])
    assert fitted is not None and fitted.knots == ()


def test_raw_values_refuse_another_number_of_dimensions():
    normaliser = Normaliser.fit(damped_oscillator(5, seed=1))  # 2 dimensions
    with pytest.raises(ValueError, match="2 dimension"):
        normaliser.raw_values(np.zeros((4, 3)))


def test_daily_data_carry_their_week_in_the_base_and_older_models_none():
    rng = np.random.default_rng(0)
    days = np.arange(1000.0)
    values = 3 * np.sin(2 * np.pi * days / 365.25) + 2 * np.sin(2 * np.pi * days / 7)
    series = Series("s", 1.6e9 + days * 86_400.0, (values + rng.normal(size=1000))[:, None])
    normaliser = Normaliser.fit(Dataset((series,), TimeKind.DATETIME))
    assert normaliser.base and normaliser.companions == (7 * 86_400.0,)
    assert Normaliser.from_json(normaliser.to_json()) == normaliser
    fitted = normaliser.fit_base(series)
    assert fitted is not None and fitted.companions == normaliser.companions
    saved = normaliser.to_json()
    del saved["companions"]
    assert Normaliser.from_json(saved).companions == ()
