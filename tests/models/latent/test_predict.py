"""predict: finite means, ordered quantiles, interpolation/extrapolation marks, order kept."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.latent.predict import Kind, predict, sample_quantiles
from models.synthetic import damped_oscillator

# Asks decoded together share one adaptive solve, whose steps depend on the whole batch: answers
# agree with the solo ones within ten times the decoder's tolerances (rtol 1e-4, atol 1e-5).
SOLVE_RTOL, SOLVE_ATOL = 1e-3, 1e-4


def test_predictions_answer_in_the_order_asked_with_ordered_quantiles(tiny_model):
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    first, last = context.times[0], context.times[-1]
    times = np.array([last + 3.0, first - 1.0, (first + last) / 2, first, last + 3.0])
    prediction = predict(tiny_model, context, times, n_samples=64, quantiles=(0.05, 0.5, 0.95))
    assert prediction.mean.shape == (5, 2) and np.isfinite(prediction.mean).all()
    low, middle, high = (prediction.quantiles[q] for q in (0.05, 0.5, 0.95))
    assert (low <= middle).all() and (middle <= high).all() and (low < high).all()
    assert prediction.kinds == (
        Kind.EXTRAPOLATION,
        Kind.EXTRAPOLATION,
        Kind.INTERPOLATION,
        Kind.INTERPOLATION,
        Kind.EXTRAPOLATION,
    )
    np.testing.assert_array_equal(prediction.mean[0], prediction.mean[4])  # duplicates agree
    np.testing.assert_array_equal(prediction.times, times)


def test_the_same_seed_gives_the_same_prediction(tiny_model):
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    times = np.linspace(context.times[0], context.times[-1] + 5, 7)
    a = predict(tiny_model, context, times, seed=3)
    b = predict(tiny_model, context, times, seed=3)
    np.testing.assert_array_equal(a.mean, b.mean)


def test_bad_quantiles_or_sample_counts_are_rejected(tiny_model):
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    with pytest.raises(ValueError, match="quantiles"):
        predict(tiny_model, context, np.array([1.0]), quantiles=(1.5,))
    with pytest.raises(ValueError, match="n_samples"):
        predict(tiny_model, context, np.array([1.0]), n_samples=0)


def test_a_saved_model_loads_and_predicts_the_same(tiny_model, tmp_path):
    from models.latent.resume import load_trained_model, save_trained_model

    save_trained_model(tmp_path, tiny_model)
    loaded = load_trained_model(tmp_path)
    assert loaded.config == tiny_model.config and loaded.normaliser == tiny_model.normaliser
    assert loaded.series_ids == tiny_model.series_ids and loaded.metrics == tiny_model.metrics
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    times = np.linspace(context.times[0] - 1, context.times[-1] + 5, 9)
    np.testing.assert_array_equal(
        predict(loaded, context, times, seed=2).mean,
        predict(tiny_model, context, times, seed=2).mean,
    )


def test_asks_decoded_together_answer_as_they_do_alone(tiny_model):
    from models.latent.predict import Ask, predict_many

    contexts = damped_oscillator(3, n_points=12, seed=11).series
    asks = [
        Ask(contexts[0], np.linspace(0.0, 14.0, 9), seed=1),  # interpolation and extrapolation
        Ask(contexts[1], np.array([3.0, 1.0, 3.0]), quantiles=(0.05, 0.5), seed=2),
        Ask(contexts[2], np.array([-1.0, 12.0]), n_samples=17, seed=3),  # its own sample count
        Ask(contexts[0], np.linspace(0.0, 14.0, 9), seed=5),  # same times, another seed
    ]
    together = predict_many(tiny_model, asks)
    for ask, answer in zip(asks, together, strict=True):
        alone = predict(
            tiny_model,
            ask.context,
            ask.times,
            n_samples=ask.n_samples,
            quantiles=ask.quantiles,
            seed=ask.seed,
        )
        np.testing.assert_array_equal(answer.times, ask.times)
        assert answer.kinds == alone.kinds and set(answer.quantiles) == set(ask.quantiles)
        np.testing.assert_allclose(answer.mean, alone.mean, rtol=SOLVE_RTOL, atol=SOLVE_ATOL)
        for q in ask.quantiles:
            np.testing.assert_allclose(
                answer.quantiles[q], alone.quantiles[q], rtol=SOLVE_RTOL, atol=SOLVE_ATOL
            )
    assert not np.allclose(together[0].mean, together[3].mean)  # seeds are per ask


@pytest.mark.parametrize("shape", [(100, 100, 2), (101, 30), (1, 5, 1), (7, 3), (2, 4, 3)])
@pytest.mark.parametrize("levels", [(0.1, 0.9), (0.0, 0.5, 1.0), (), (0.05, 0.333, 0.95)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_quantiles_are_numpys(shape, levels, dtype):
    samples = np.random.default_rng(len(shape) + len(levels)).normal(size=shape).astype(dtype)
    expected = np.quantile(samples, levels, axis=0) if levels else np.empty((0, *shape[1:]))
    got = sample_quantiles(samples, levels)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_sample_quantiles_are_nan_where_a_sample_is():
    samples = np.random.default_rng(0).normal(size=(10, 4, 2))
    samples[3, 1, 0] = np.nan
    got = sample_quantiles(samples, (0.1, 0.9))
    assert np.isnan(got[:, 1, 0]).all()
    assert not np.isnan(np.delete(got.reshape(2, -1), 2, axis=1)).any()


def test_forecasts_come_from_the_recipe_where_it_serves_and_from_the_model_where_it_does_not(
    tiny_model,
):
    import dataclasses
    from statistics import NormalDist

    from models.forecast.pipeline import forecast_moments

    recipe = tiny_model.forecast_recipe
    assert recipe is not None  # every trained model carries one
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    last = context.times[-1]
    times = np.array([last + 0.5, context.times[3] + 0.01, last + 2.0])
    levels = (0.1, 0.5, 0.9)
    by_recipe = dataclasses.replace(
        tiny_model,
        forecast_recipe=dataclasses.replace(
            recipe, dims=tuple(dataclasses.replace(d, model_serves=False) for d in recipe.dims)
        ),
    )
    served = predict(by_recipe, context, times, n_samples=200, quantiles=levels, seed=1)
    mean, variance = forecast_moments(recipe, context, times[[0, 2]])
    np.testing.assert_allclose(served.mean[[0, 2]], mean, rtol=1e-9, atol=1e-9)
    spread = NormalDist().inv_cdf(0.9) * np.sqrt(variance)
    np.testing.assert_allclose(served.quantiles[0.9][[0, 2]], mean + spread, rtol=0.02)
    alone = predict(
        dataclasses.replace(tiny_model, forecast_recipe=None),
        context,
        times,
        n_samples=200,
        quantiles=levels,
        seed=1,
    )
    np.testing.assert_allclose(served.mean[1], alone.mean[1])  # interpolation: the model's
    by_model = dataclasses.replace(
        tiny_model,
        forecast_recipe=dataclasses.replace(
            recipe, dims=tuple(dataclasses.replace(d, model_serves=True) for d in recipe.dims)
        ),
    )
    own = predict(by_model, context, times, n_samples=200, quantiles=levels, seed=1)
    np.testing.assert_array_equal(own.mean, alone.mean)  # where the model won, its forecasts


def test_times_before_the_first_observation_are_the_recipes_backcast_even_where_the_model_serves(
    tiny_model,
):
    import dataclasses

    from models.forecast.pipeline import backcast_moments

    recipe = tiny_model.forecast_recipe
    assert recipe is not None
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    first = context.times[0]
    times = np.array([first - 2.0, first - 0.5, context.times[5] + 0.01])
    by_model = dataclasses.replace(
        tiny_model,
        forecast_recipe=dataclasses.replace(
            recipe, dims=tuple(dataclasses.replace(d, model_serves=True) for d in recipe.dims)
        ),
    )
    served = predict(by_model, context, times, n_samples=200, seed=1)
    mean, _ = backcast_moments(recipe, context, times[:2])
    alone = predict(
        dataclasses.replace(tiny_model, forecast_recipe=None), context, times, n_samples=200, seed=1
    )
    backcast = ~np.isnan(mean)  # not where a family candidate serves: the model answers there
    assert backcast.any()
    np.testing.assert_allclose(served.mean[:2][backcast], mean[backcast], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(served.mean[:2][~backcast], alone.mean[:2][~backcast])
    assert not np.allclose(alone.mean[:2][backcast], mean[backcast])  # the model differs there
    np.testing.assert_allclose(served.mean[2], alone.mean[2])  # a gap: the model's
    assert served.kinds[:2] == (Kind.EXTRAPOLATION, Kind.EXTRAPOLATION)


def test_each_dimension_is_backcast_before_its_own_first_observation_and_needs_two(tiny_model):
    import dataclasses

    from models.forecast.pipeline import backcast_moments
    from models.series import Series

    recipe = tiny_model.forecast_recipe
    assert recipe is not None
    whole = damped_oscillator(1, n_points=12, seed=9).series[0]
    values = whole.values.copy()
    values[:3, 0] = np.nan  # the first dimension starts at the fourth time
    context = Series(whole.id, whole.times, values)
    between = np.array([(whole.times[1] + whole.times[2]) / 2])  # before it, inside the context
    served = predict(tiny_model, context, between, n_samples=200, seed=1)
    mean, _ = backcast_moments(recipe, context, between)
    assert not np.isnan(mean[0, 0])  # not a family candidate's dimension (the other one is)
    np.testing.assert_allclose(served.mean[0, 0], mean[0, 0], rtol=1e-9, atol=1e-9)
    alone_model = dataclasses.replace(tiny_model, forecast_recipe=None)
    alone = predict(alone_model, context, between, n_samples=200, seed=1)
    np.testing.assert_allclose(served.mean[0, 1], alone.mean[0, 1])  # observed there: a gap
    once = values.copy()
    once[4:, 0] = np.nan  # the first dimension observed once, at the fourth time
    single = Series(whole.id, whole.times, once)
    before = whole.times[:1] - 1.0
    served = predict(tiny_model, single, before, n_samples=200, seed=1)
    alone = predict(alone_model, single, before, n_samples=200, seed=1)
    np.testing.assert_allclose(served.mean[0, 0], alone.mean[0, 0])  # one value: the model's


def test_a_saved_recipe_loads_and_a_checkpoint_without_one_serves_the_model_alone(
    tiny_model, tmp_path
):
    import json

    from models.checkpoint import CheckpointError
    from models.latent.resume import load_trained_model, save_trained_model

    save_trained_model(tmp_path, tiny_model)
    loaded = load_trained_model(tmp_path).forecast_recipe
    assert loaded is not None  # compared as JSON: a NaN model ratio is not equal to itself
    assert json.dumps(loaded.to_json()) == json.dumps(tiny_model.forecast_recipe.to_json())
    document = json.loads((tmp_path / "meta.json").read_text())
    meta = document["meta"]
    without = {k: v for k, v in meta.items() if k != "forecast_recipe"}
    _rewrite_meta(tmp_path, {**document, "meta": without})
    assert load_trained_model(tmp_path).forecast_recipe is None  # trained before recipes
    newer = {**meta, "forecast_recipe": {**meta["forecast_recipe"], "version": 9}}
    _rewrite_meta(tmp_path, {**document, "meta": newer})
    with pytest.raises(CheckpointError, match="version 9"):
        load_trained_model(tmp_path)


def _rewrite_meta(folder, document) -> None:
    """meta.json replaced by ``document`` (its checksums cover the tensor files only)."""
    (folder / "meta.json").write_text(json.dumps(document))
