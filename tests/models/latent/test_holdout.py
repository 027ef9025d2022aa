"""Held-out points and series: nothing scored is trained on; skill and calibration on them."""

from __future__ import annotations

import numpy as np
import pytest

from models.latent.batching import Task
from models.latent.calibration import (
    LEVELS,
    SCALES,
    Calibration,
    coverage,
    cross_fitted,
    fit_scale,
)
from models.latent.holdout import GAP_FOLDS, IN_SAMPLE_ORIGINS, in_sample_forecasts, make_holdout
from models.latent.model import ModelConfig
from models.latent.normaliser import Normaliser
from models.latent.skill import _crps
from models.latent.train import Config, TrainingConfig, train
from models.series import Dataset, Series, TimeKind
from models.synthetic import falling_object


def seasonal_series(n: int = 1200, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, 30.0, n))
    values = 0.05 * times + np.sin(2 * np.pi * times) + 0.1 * rng.standard_normal(n)
    return Series("s", times, values[:, None])


def _times(series: list[Series]) -> set[float]:
    return {float(t) for s in series for t in s.times}


def test_one_long_series_holds_out_its_tail_and_interior_points_never_trained_on():
    data = Dataset((seasonal_series(),), TimeKind.NUMERIC)
    normaliser = Normaliser.fit(data)
    assert normaliser.windowed and normaliser.base
    holdout = make_holdout(data, normaliser, 0.2, seed=0)
    trained = _times(holdout.train)
    (interp,), (extrap,) = holdout.interpolation, holdout.extrapolation
    assert not holdout.by_series and not holdout.in_sample
    assert trained.isdisjoint(interp.times) and trained.isdisjoint(extrap.times)
    assert _times([interp.context]) == trained == _times([extrap.context])
    assert extrap.times.min() > max(trained)  # the tail, after everything trained on
    assert len(trained) + len(interp.times) + len(extrap.times) == len(data.series[0])
    assert len(extrap.times) <= 0.2 * len(data.series[0]) + 1


def test_in_sample_forecasts_read_only_what_trains_and_span_the_tails_horizon():
    data = Dataset((seasonal_series(),), TimeKind.NUMERIC)
    holdout = make_holdout(data, Normaliser.fit(data), 0.2, seed=0)
    (tail,) = holdout.extrapolation
    horizon = tail.times[-1] - tail.context.times[-1]
    cases = in_sample_forecasts(holdout)
    assert 0.8 * IN_SAMPLE_ORIGINS <= len(cases) <= IN_SAMPLE_ORIGINS
    trained = _times(holdout.train)
    origins = [case.context.times[-1] for case in cases]
    (train,) = holdout.train
    quarter = train.times[0] + 0.24 * (train.times[-1] - train.times[0])
    assert origins == sorted(origins) and origins[0] >= quarter
    for case in cases:
        assert _times([case.context]) <= trained and set(case.times.tolist()) <= trained
        ahead = case.times - case.context.times[-1]
        assert ahead.min() > 0 and ahead.max() <= horizon
        assert not set(case.context.times.tolist()) & set(case.times.tolist())
    family = falling_object(10, seed=0)
    assert in_sample_forecasts(make_holdout(family, Normaliser.fit(family), 0.2, seed=0)) == []


def test_a_family_holds_out_whole_series():
    data = falling_object(10, seed=0)
    holdout = make_holdout(data, Normaliser.fit(data), 0.2, seed=0)
    assert holdout.by_series and len(holdout.train) == 8 and len(holdout.extrapolation) == 2
    trained_ids = {s.id for s in holdout.train}
    assert all(case.context.id not in trained_ids for case in holdout.interpolation)
    # per held-out series: one sparse case (early stopping reads it), GAP_FOLDS dense ones
    assert len(holdout.interpolation) == 2 and len(holdout.gaps) == 2 * GAP_FOLDS
    by_id = {s.id: s for s in data.series}
    for sparse in holdout.interpolation:
        whole = by_id[sparse.context.id]
        assert len(sparse.context) == round(0.2 * len(whole))
        gaps = [case for case in holdout.gaps if case.context.id == whole.id]
        hidden = np.concatenate([case.times for case in gaps])
        # every inner time hidden exactly once, each from a context holding all the others
        np.testing.assert_array_equal(np.sort(hidden), whole.times[1:-1])
        for case in gaps:
            assert len(case.context) + len(case.times) == len(whole)
            assert not set(case.context.times.tolist()) & set(case.times.tolist())
    # the training series' own gaps, for the answers that do not use the model
    assert len(holdout.training_gaps) == 8 * GAP_FOLDS
    assert {case.context.id for case in holdout.training_gaps} == trained_ids
    assert make_holdout(data, Normaliser.fit(data), 0.0, seed=0).training_gaps == []


def test_a_short_held_out_series_hides_each_inner_point_alone():
    times = np.arange(4.0)
    family = Dataset(
        tuple(Series(f"s{i}", times, (times + i)[:, None]) for i in range(5)), TimeKind.NUMERIC
    )
    holdout = make_holdout(family, Normaliser.fit(family), 0.2, seed=0)
    gaps = holdout.gaps  # one series held out: 2 inner points, 2 folds
    assert [case.times.tolist() for case in sorted(gaps, key=lambda c: c.times[0])] == [
        [1.0],
        [2.0],
    ]
    assert len(holdout.training_gaps) == 4 * 2
    two = Dataset(
        tuple(Series(f"s{i}", times[:2], times[:2, None]) for i in range(5)), family.time_kind
    )
    assert make_holdout(two, Normaliser.fit(two), 0.2, seed=0).training_gaps == []  # none inner


def test_val_fraction_zero_scores_in_sample():
    data = falling_object(4, seed=0)
    holdout = make_holdout(data, Normaliser.fit(data), 0.0, seed=0)
    assert holdout.in_sample and len(holdout.train) == 4


def test_instance_scaling_round_trips():
    rng = np.random.default_rng(0)
    context = 5.0 + 3.0 * rng.standard_normal((40, 2))
    context[3, 1] = np.nan
    targets = 5.0 + 3.0 * rng.standard_normal((7, 2))
    task = Task(np.arange(40.0), context, np.arange(7.0), targets)
    scaled = task.scaled(0.05)
    observed = scaled.context_values[~np.isnan(scaled.context_values[:, 1]), 1]
    assert observed.mean() == pytest.approx(0.0, abs=1e-12)
    assert observed.std() == pytest.approx(1.0)
    np.testing.assert_allclose(scaled.target_values * scaled.spread + scaled.center, targets)
    flat = Task(np.arange(3.0), np.ones((3, 1)), np.arange(1.0)).scaled(0.05)
    assert flat.spread[0] == 0.05  # a flat window is not blown up


def test_interval_scale_and_cross_fitted_coverage():
    rng = np.random.default_rng(0)
    truth = 3.0 * rng.standard_normal(4000)  # the model's samples are 3x too narrow
    samples = rng.standard_normal((200, 4000))
    assert coverage(samples, truth, 80) < 0.4
    scale = fit_scale(samples, truth)
    assert scale == pytest.approx(3.0, rel=0.1)
    honest = cross_fitted(samples, truth)
    assert coverage(honest, truth, 80) == pytest.approx(0.8, abs=0.03)
    widened = Calibration(1.0, scale).widen(samples[:, :, None], np.arange(4000) % 2 == 0)
    assert coverage(widened[:, ::2, 0], truth[::2], 90) == pytest.approx(0.9, abs=0.03)
    np.testing.assert_allclose(widened[:, 1::2, 0], samples[:, 1::2], atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_fitted_scale_is_the_one_whose_widened_samples_cover_best(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 400))
    samples = rng.gamma(1.0) * rng.standard_normal((100, size)) + rng.normal()
    truth = rng.gamma(1.0) * rng.standard_t(3, size)
    mean = samples.mean(axis=0)

    def misses(scale: float) -> float:
        widened = mean + scale * (samples - mean)
        return sum(abs(coverage(widened, truth, level) - level / 100) for level in LEVELS)

    brute_force = SCALES[int(np.argmin([misses(scale) for scale in SCALES]))]
    assert fit_scale(samples, truth) == brute_force


def test_crps_of_a_point_forecast_is_its_absolute_error_and_a_spread_costs_less():
    truth = np.array([1.0, -2.0])
    point = np.tile(np.array([1.5, -2.0]), (50, 1))
    assert _crps(point, truth) == pytest.approx(0.25)
    spread = np.random.default_rng(0).normal(0.0, 1.0, (4000, 1))
    assert _crps(spread, np.zeros(1)) == pytest.approx(0.2337, abs=0.01)  # (sqrt(2) - 1)/sqrt(pi)


@pytest.mark.slow
def test_skill_of_a_trained_long_series_model_is_reported_on_held_out_points():
    data = Dataset((seasonal_series(),), TimeKind.NUMERIC)
    config = Config(
        ModelConfig(latent_dim=4, hidden_dim=16, encoder_dim=16),
        TrainingConfig(epochs=30, seed=0, max_seconds=120.0),
    )
    trained = train(config, data, device="cpu")
    skill = trained.skill
    assert skill["held_out"] == "points" and skill["base"] is True
    assert skill["season"] == pytest.approx(1.0, rel=0.01)
    interp, extrap = skill["interpolation"], skill["extrapolation"]
    holdout = make_holdout(data, trained.normaliser, 0.2, 0)
    assert interp["points"] == len(holdout.interpolation[0].times)
    assert extrap["points"] == len(holdout.extrapolation[0].times)
    assert set(extrap["baselines"]) == {"last_value", "drift", "linear_trend", "seasonal_naive"}
    assert extrap["ratio"] == pytest.approx(extrap["mse"] / min(extrap["baselines"].values()))
    # the forecast recipe serves a seasonal candidate, chosen on backtests where it beat the
    # last value by far, and the figures are those of what serves
    recipe = skill["forecast_recipe"]["dims"][0]
    assert recipe["season"] == pytest.approx(1.0, rel=0.01), recipe
    assert recipe["ratios"]["last_value"] > 10, recipe
    assert extrap["served"] == "forecast_recipe" or recipe["model_serves"], skill
    assert 0.6 <= interp["coverage"]["80"] <= 0.95
