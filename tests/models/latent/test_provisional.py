"""The provisional stage: the cheap candidates' answer, stored and served without a network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.checkpoint import CheckpointError
from models.forecast.pipeline import forecast_moments
from models.latent.predict import Kind, predict
from models.latent.provisional import ProvisionalModel, fit_provisional
from models.latent.resume import (
    load_trained_model,
    load_trained_model_and_version,
    save_provisional_model,
)
from models.latent.train import Config, fit_normaliser
from models.series import Dataset, Series, TimeKind
from models.store import Stage


def seasonal_walk(seed: int = 0, points: int = 240) -> Series:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.choice(points * 2, points, replace=False)).astype(float)
    values = np.cumsum(rng.normal(size=points)) + 3 * np.sin(2 * np.pi * times / 24)
    return Series("s", times, values[:, None])


@pytest.fixture(scope="module")
def provisional() -> ProvisionalModel:
    dataset = Dataset((seasonal_walk(),), TimeKind.NUMERIC)
    config = Config()
    return fit_provisional(config, dataset, fit_normaliser(config, dataset))


def test_gaps_are_linear_interpolation_and_forecasts_the_recipes(
    provisional: ProvisionalModel,
) -> None:
    series = seasonal_walk()
    inside = np.array([series.times[3] + 0.5, series.times[100] + 0.25])
    ahead = series.times[-1] + np.array([1.0, 10.0, 30.0])
    answer = predict(provisional, series, np.concatenate([inside, ahead]))
    linear = np.interp(inside, series.times, series.values[:, 0])
    np.testing.assert_allclose(answer.mean[:2, 0], linear)
    recipe_mean, _ = forecast_moments(provisional.recipe, series, ahead)
    np.testing.assert_allclose(answer.mean[2:, 0], recipe_mean[:, 0])
    assert answer.kinds == (Kind.INTERPOLATION,) * 2 + (Kind.EXTRAPOLATION,) * 3
    lower, upper = answer.quantiles[0.1][:, 0], answer.quantiles[0.9][:, 0]
    assert (lower < answer.mean[:, 0]).all() and (answer.mean[:, 0] < upper).all()
    assert provisional.stage is Stage.PROVISIONAL


def test_a_context_with_a_dimension_seen_once_or_never_still_gets_finite_answers(
    provisional: ProvisionalModel,
) -> None:
    one = Series("new", np.array([5.0]), np.array([[2.0]]))
    answer = predict(provisional, one, np.array([0.0, 5.0, 9.0]))
    assert np.isfinite(answer.mean).all()
    assert all(np.isfinite(q).all() for q in answer.quantiles.values())
    np.testing.assert_allclose(answer.mean[:, 0], 2.0)  # its one value, the data's spread
    assert (answer.quantiles[0.9][:, 0] > 2.0).all()


def test_a_backcast_is_the_recipes_forecast_backwards(provisional: ProvisionalModel) -> None:
    series = seasonal_walk()
    before = series.times[0] - np.array([1.0, 5.0])
    answer = predict(provisional, series, before)
    assert np.isfinite(answer.mean).all() and answer.kinds == (Kind.EXTRAPOLATION,) * 2


def test_the_stage_round_trips_through_a_checkpoint(
    provisional: ProvisionalModel, tmp_path: Path
) -> None:
    save_provisional_model(tmp_path, provisional)
    loaded, version = load_trained_model_and_version(tmp_path)
    assert isinstance(loaded, ProvisionalModel) and version == 1
    series = seasonal_walk()
    times = np.array([series.times[0] - 2, series.times[7] + 0.5, series.times[-1] + 12])
    np.testing.assert_array_equal(
        predict(loaded, series, times).mean, predict(provisional, series, times).mean
    )
    with pytest.raises(CheckpointError, match="provisional"):
        load_trained_model(tmp_path)  # asked for trained weights, it says what is there


def test_a_family_of_short_curves_gets_a_provisional_stage() -> None:
    rng = np.random.default_rng(1)
    curves = tuple(
        Series(f"c{i}", np.sort(rng.uniform(0, 10, 8)), rng.normal(size=(8, 2)).cumsum(axis=0))
        for i in range(12)
    )
    dataset = Dataset(curves, TimeKind.NUMERIC)
    config = Config()
    model = fit_provisional(config, dataset, fit_normaliser(config, dataset))
    assert len(model.gaps) == 2 and len(model.recipe.dims) == 2
    answer = predict(model, curves[0], np.array([curves[0].times[2] + 0.01, 12.0]))
    assert np.isfinite(answer.mean).all()
    assert model.skill["held_out"] == "backtest" and model.skill["backtest"]["dims"]
