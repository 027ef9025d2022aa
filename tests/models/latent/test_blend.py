"""The blend of the model's mean with naive answers: weights, features, and what predict does."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from models.baselines import fit_reversion
from models.latent.blend import (
    ExtrapolationBlend,
    InterpolationBlend,
    cross_fitted_shift,
    fit_weights,
    interpolation_features,
    neighbour_times,
    respread,
    shifted,
)
from models.latent.calibration import Calibration
from models.latent.kriging import Kernel, Kriging
from models.latent.predict import predict
from models.series import Series
from models.synthetic import damped_oscillator, mean_reverting


def _series(times, values, name: str = "s") -> Series:
    values = np.asarray(values, dtype=np.float64)
    return Series(name, np.asarray(times, dtype=np.float64), values.reshape(len(times), -1))


def test_fit_weights_recovers_a_mixture_inside_the_box_and_clips_outside_it():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 500))
    np.testing.assert_allclose(
        fit_weights(features, 0.3 * features[0] + 0.7 * features[1]), (0.3, 0.7)
    )
    clipped = fit_weights(features, 2.0 * features[0] - 0.5 * features[1])
    assert clipped == (1.0, 0.0)
    assert fit_weights(features[:1], -features[0]) == (0.0,)
    assert fit_weights(np.zeros((1, 5)), np.ones(5)) == (0.0,)


def test_neighbour_times_bracket_each_query_in_every_dimension():
    context = _series([0.0, 1.0, 2.0, 3.0], [[0, np.nan], [1, 5], [2, np.nan], [3, 7]])
    found = neighbour_times(context, np.array([1.5, 0.5, 9.0]))
    np.testing.assert_array_equal(found, [0.0, 1.0, 2.0, 3.0])
    assert neighbour_times(context, np.array([2.5])).tolist() == [1.0, 2.0, 3.0]


def test_both_weights_at_one_give_linear_interpolation_and_restore_alone_hits_observations():
    context = _series([0.0, 1.0, 3.0], [0.0, 2.0, 6.0])
    query = np.array([0.5, 1.0, 2.0])
    known_times = np.union1d(query, neighbour_times(context, query))
    known_mean = np.sin(known_times)[:, None] + 10.0  # any model mean
    mean = known_mean[np.searchsorted(known_times, query)]
    features = interpolation_features(context, query, known_times, known_mean)  # [4, Q, 1]
    straight = mean + features[0] + features[1]
    np.testing.assert_allclose(
        straight[:, 0], np.interp(query, context.times, context.values[:, 0])
    )
    restored = mean + features[0]
    assert restored[1, 0] == pytest.approx(2.0)  # an observed time gives its observation back
    assert not features[2].any()  # no kriging, no kriged answer


def test_the_monotone_cubic_feature_follows_the_observations_without_overshooting():
    context = _series([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 1.0, 1.0])  # a step
    query = np.linspace(0.0, 3.0, 31)
    known_times = np.union1d(query, neighbour_times(context, query))
    known_mean = np.cos(known_times)[:, None]  # any model mean
    mean = known_mean[np.searchsorted(known_times, query)]
    cubic = (mean + interpolation_features(context, query, known_times, known_mean)[3])[:, 0]
    np.testing.assert_allclose(cubic[::10], [0.0, 0.0, 1.0, 1.0], atol=1e-12)
    assert np.all(np.diff(cubic) >= -1e-12) and cubic.min() >= 0.0 and cubic.max() <= 1.0
    assert cubic[15] == pytest.approx(0.5)  # halfway up the step, by symmetry


def test_features_are_zero_where_a_dimension_has_no_observation():
    context = _series([0.0, 1.0], [[1.0, np.nan], [2.0, np.nan]])
    query = np.array([0.5])
    known_times = np.array([0.0, 0.5, 1.0])
    kriged = np.array([[1.7, np.nan]])  # the second dimension is not kriged
    features = interpolation_features(context, query, known_times, np.ones((3, 2)), kriged)
    assert features[:, 0, 1].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert features[2, 0, 0] == pytest.approx(0.7)  # kriged answer less the model's mean
    outside = interpolation_features(
        context, np.array([2.0]), np.array([0.0, 1.0, 2.0]), np.ones((3, 2)), kriged
    )
    assert not outside.any()  # after the observations: no gap to fill


def test_gaps_wider_than_the_limit_take_the_wide_gap_blend(tiny_model):
    times = np.linspace(0.0, 5.0, 12)
    values = np.stack([np.cos(times), -np.sin(times)], axis=1)  # both dimensions observed
    kept = np.r_[0:3, 7:12]  # a wide gap (rows 3-6 missing) after narrow ones
    sparse = Series("s", times[kept], values[kept])
    narrow_time = 0.5 * (sparse.times[0] + sparse.times[1])
    wide_time = 0.5 * (sparse.times[2] + sparse.times[3])
    limit = 1.01 * float(np.max(np.diff(sparse.times[:3])))
    calibration = dataclasses.replace(
        tiny_model.calibration,
        interpolation_blend=InterpolationBlend(1.0, 1.0),  # linear interpolation
        wide_gap_blend=InterpolationBlend(),  # the model alone
        gap_limit=limit,
        kriging=None,
    )
    model = dataclasses.replace(tiny_model, calibration=calibration, forecast_recipe=None)
    # every gap wide: the model alone everywhere, from the same times decoded (the same draws)
    all_wide = dataclasses.replace(calibration, gap_limit=1e-9)
    alone = dataclasses.replace(tiny_model, calibration=all_wide, forecast_recipe=None)
    times = np.array([narrow_time, wide_time])
    served = predict(model, sparse, times, seed=1)
    line = [np.interp(narrow_time, sparse.times, sparse.values[:, d]) for d in range(2)]
    np.testing.assert_allclose(served.mean[0], line, atol=1e-9)
    model_alone = predict(alone, sparse, times, seed=1).mean
    np.testing.assert_allclose(served.mean[1], model_alone[1])
    assert not np.allclose(served.mean[0], model_alone[0])
    assert calibration.wide_gaps(sparse, times).tolist() == [[False, False], [True, True]]
    again = type(calibration).from_json(calibration.to_json())
    assert again.wide_gap_blend == InterpolationBlend() and again.gap_limit == limit
    old = calibration.to_json()
    for key in ("wide_gap_blend", "wide_gap_scale", "gap_limit"):
        old.pop(key)  # a model trained before wide gaps had a blend of their own
    assert type(calibration).from_json(old).interpolation_blends == (InterpolationBlend(1, 1),)


def test_respread_mixes_the_model_spread_with_the_kriged_variance():
    rng = np.random.default_rng(2)
    samples = 5.0 + 0.5 * rng.normal(size=(4000, 3))  # model variance 0.25 everywhere
    variance = np.array([4.0, np.nan, 1.0])  # the second entry is not kriged
    assert respread(samples, variance, 0.0) is samples
    assert respread(samples, None, 0.7) is samples
    mixed = respread(samples, variance, 0.75)
    expected = 0.25**2 * samples.var(axis=0) + 0.75**2 * np.array([4.0, 0.0, 1.0])
    expected[1] = samples.var(axis=0)[1]
    np.testing.assert_allclose(mixed.var(axis=0), expected)
    np.testing.assert_allclose(mixed.mean(axis=0), samples.mean(axis=0))
    flat = np.ones((10, 1))
    np.testing.assert_array_equal(respread(flat, np.array([2.0]), 1.0), flat)  # no spread


def test_cross_fitted_shift_uses_only_the_other_half():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=400)
    samples = rng.normal(size=(50, 400)) + 3.0
    features = (truth - samples.mean(axis=0))[None]  # the truth itself: weight 1 on both halves
    honest = cross_fitted_shift(samples, features, truth)
    np.testing.assert_allclose(honest.mean(axis=0), truth, atol=1e-9)
    np.testing.assert_allclose(honest.std(axis=0), samples.std(axis=0))  # spread kept
    assert shifted(samples, features, (0.0,)) is samples


def test_weights_outside_the_box_are_refused_and_json_round_trips():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        InterpolationBlend(1.5, 0.0)
    calibration = Calibration(
        1.2, 3.0, False, InterpolationBlend(0.4, 0.1), ExtrapolationBlend("drift", 0.6)
    )
    assert Calibration.from_json(calibration.to_json()) == calibration
    kriged = dataclasses.replace(
        calibration,
        interpolation_blend=InterpolationBlend(0.2, 0.0, 0.7),
        kriging=Kriging((Kernel(2.5, 3.0, 0.01), None), period=12.0, bends=False),
    )
    assert Calibration.from_json(kriged.to_json()) == kriged
    before_kriging = calibration.to_json()
    del before_kriging["kriging"], before_kriging["interpolation_blend"]["krige"]
    assert Calibration.from_json(before_kriging) == calibration
    old = {"interpolation_scale": 1.0, "extrapolation_scale": 2.0, "extrapolate_with_base": False}
    assert Calibration.from_json(old) == Calibration(1.0, 2.0, False)  # checkpoints before blends


def test_predict_applies_the_blend_per_kind_of_time(tiny_model):
    context = damped_oscillator(1, n_points=12, seed=9).series[0]
    first, last = context.times[0], context.times[-1]
    inside = np.linspace(first, last, 7)
    after = np.array([last + 1.0, last + 2.0])
    before = np.array([first - 1.0])
    times = np.concatenate([after, inside, before])

    def blending(interpolation: InterpolationBlend, extrapolation: ExtrapolationBlend):
        calibration = dataclasses.replace(
            tiny_model.calibration,
            interpolation_blend=interpolation,
            extrapolation_blend=extrapolation,
            wide_gap_blend=None,
        )
        # the blend serves forecasts only where no forecast recipe does
        return dataclasses.replace(tiny_model, calibration=calibration, forecast_recipe=None)

    naive = blending(InterpolationBlend(1.0, 1.0), ExtrapolationBlend("last_value", 1.0))
    blended = predict(naive, context, times, seed=4)
    # same interpolation blend: the same times decoded, so the same draws
    alone = predict(
        blending(InterpolationBlend(1.0, 1.0), ExtrapolationBlend()), context, times, seed=4
    )
    for d in range(context.dims):
        observed = ~np.isnan(context.values[:, d])
        times_d, values_d = context.times[observed], context.values[observed, d]
        within = (inside >= times_d[0]) & (inside <= times_d[-1])
        line = np.interp(inside[within], times_d, values_d)
        np.testing.assert_allclose(blended.mean[2:9, d][within], line, atol=1e-9)
        np.testing.assert_allclose(blended.mean[:2, d], values_d[-1], atol=1e-9)
    np.testing.assert_allclose(blended.mean[9], alone.mean[9])  # before the series: model alone
    assert not np.allclose(blended.mean[:2], alone.mean[:2])
    spread = blended.quantiles[0.9] - blended.quantiles[0.1]
    np.testing.assert_allclose(spread[9], (alone.quantiles[0.9] - alone.quantiles[0.1])[9])


def test_evidence_that_is_not_scored_steers_the_cross_fitted_weights():
    """A held-out stretch that says "the model alone" is outweighed by many in-sample forecasts
    that say "the naive method": each half is shifted by weights fitted on both."""
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(50, 40))  # [S, M], mean about 0
    features = np.ones((1, 40))  # the naive forecast lies 1 above the mean
    truth = samples.mean(axis=0)  # the model's mean is right on the held-out entries
    alone = cross_fitted_shift(samples, features, truth)
    np.testing.assert_allclose(alone, samples)  # weight 0
    extra = (np.ones((1, 400)), np.ones(400))  # elsewhere the naive forecast is right
    steered = cross_fitted_shift(samples, features, truth, extra)
    shift = (steered - samples).mean()
    assert 0.85 < shift < 1.0  # weight (400 + 0) / (400 + 20) per half


def test_a_forecast_is_never_surer_than_the_floor():
    from models.latent.calibration import floored

    rng = np.random.default_rng(3)
    samples = rng.normal(size=(4000, 3, 2)) * np.array([0.1, 2.0])  # [S, T, D]
    out = floored(samples, (1.0, 1.0))
    np.testing.assert_allclose(out.var(axis=0)[:, 0], 1.0, rtol=1e-9)  # raised to the floor
    np.testing.assert_allclose(out[:, :, 1], samples[:, :, 1], rtol=1e-12)  # wider already
    np.testing.assert_allclose(out.mean(axis=0), samples.mean(axis=0))
    calibration = Calibration(extrapolation_floor=(0.25, 0.25))  # a quarter of the context's
    assert Calibration.from_json(calibration.to_json()) == calibration
    context = _series([0.0, 1.0, 2.0, 3.0], [[-2.0, 0.0], [2.0, 0.0], [-2.0, 0.0], [2.0, 0.0]])
    widened = calibration.widen(samples, np.array([True, False, True]), context)  # variance 4
    np.testing.assert_allclose(widened.var(axis=0)[[0, 2], 0], 1.0, rtol=1e-9)
    np.testing.assert_allclose(widened[:, :, 1], samples[:, :, 1], rtol=1e-12)  # constant: none
    np.testing.assert_allclose(calibration.widen(samples, np.array([True] * 3)), samples)
    np.testing.assert_allclose(widened[:, 1], samples[:, 1], rtol=1e-12)  # interpolation: no floor


def _assessed_untrained_model(*data: np.ndarray | list[Series]):
    """An untrained small model of one series (times, values) or of several (a list of Series),
    assessed as training would: (trained model, calibration, skill figures)."""
    import torch

    from models.latent.holdout import make_holdout
    from models.latent.model import ModelConfig
    from models.latent.normaliser import Normaliser
    from models.latent.skill import assess
    from models.latent.train import Config, TrainedModel, TrainingConfig, new_model
    from models.series import Dataset, TimeKind

    series = data[0] if len(data) == 1 else [_series(*data)]
    dataset = Dataset(tuple(series), TimeKind.NUMERIC)
    config = Config(ModelConfig(latent_dim=3, hidden_dim=8, encoder_dim=8), TrainingConfig())
    normaliser = Normaliser.fit(dataset)
    torch.manual_seed(0)
    model = new_model(config, normaliser, 1).eval()
    holdout = make_holdout(dataset, normaliser, 0.2, 0)
    calibration, figures = assess(model, normaliser, holdout, 0)
    ids = tuple(s.id for s in series)
    trained = TrainedModel(model, normaliser, config, {}, ids, figures, calibration)
    return trained, calibration, figures


def test_a_model_that_does_not_beat_linear_interpolation_serves_it():
    """An untrained model fills gaps worse than a straight line; its blend, measured out of
    sample, cannot do better either, so linear interpolation itself is served, and the skill
    figures say that it does not beat it."""
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0.0, 40.0, 600))
    values = np.cumsum(rng.normal(size=600)) * 0.3 + 0.05 * rng.normal(size=600)
    trained, calibration, figures = _assessed_untrained_model(times, values)
    assert calibration.interpolation_blend == InterpolationBlend(1.0, 1.0)
    interpolation = figures["interpolation"]
    assert interpolation["ratio"] == pytest.approx(1.0, rel=1e-9)
    assert not interpolation["beats_naive"] and interpolation["model_mse"] > interpolation["mse"]
    gaps = np.array([5.05, 17.3, 33.33])
    served = predict(trained, _series(times, values), gaps, n_samples=20).mean[:, 0]
    np.testing.assert_allclose(served, np.interp(gaps, times, values), rtol=1e-9, atol=1e-9)


def test_a_seasonal_series_is_forecast_by_its_base_alone_unless_the_ode_clearly_helps():
    """White noise around a trend and a season: nothing is left for the ODE to forecast, and an
    untrained one that happens to do slightly better on the one held-out tail (it does, at this
    seed) does not do so by the paired test, so the base alone forecasts."""
    rng = np.random.default_rng(2)
    times = np.sort(rng.uniform(0.0, 40.0, 800))
    values = 0.05 * times + np.sin(2 * np.pi * times) + 0.2 * rng.normal(size=800)
    trained, calibration, figures = _assessed_untrained_model(times, values)
    assert trained.normaliser.base and trained.normaliser.season == pytest.approx(1.0, rel=1e-3)
    assert calibration.extrapolate_with_base and figures["extrapolation_method"] == "seasonal_base"


def test_a_noisy_smooth_series_is_served_its_kriged_answer_and_says_it_beats_the_line():
    """Dense, noisy observations of a smooth curve: an untrained model is useless, the straight
    line between two noisy neighbours carries their noise, and kriging smooths it away. The blend
    leans on the kriged answer, its figures beat linear interpolation, and predictions in gaps
    are nearer the curve than the straight line."""
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0.0, 40.0, 600))
    values = np.sin(times / 2.0) + 0.3 * rng.normal(size=600)
    trained, calibration, figures = _assessed_untrained_model(times, values)
    assert calibration.kriging is not None and calibration.interpolation_blend.krige > 0.5
    assert figures["interpolation"]["beats_naive"] and figures["interpolation"]["ratio"] < 0.8
    gaps = np.linspace(1.0, 39.0, 200)
    served = predict(trained, _series(times, values), gaps, n_samples=20).mean[:, 0]
    clean = np.sin(gaps / 2.0)
    line = np.interp(gaps, times, values)
    assert np.mean((served - clean) ** 2) < 0.5 * np.mean((line - clean) ** 2)


def test_the_blend_is_served_only_when_it_beats_linear_interpolation_clearly():
    from models.latent.skill import _clearly_better

    rng = np.random.default_rng(0)
    truth = rng.normal(size=60)
    linear = (truth + rng.normal(scale=1.0, size=60))[None]  # [S=1, M]
    better = (truth + rng.normal(scale=0.5, size=60))[None]  # a quarter of the error, everywhere
    assert _clearly_better(better, linear, truth)
    assert not _clearly_better(linear, better, truth)
    assert not _clearly_better(linear, linear, truth)  # a tie is no gain
    lucky = linear.copy()
    errors = (linear[0] - truth) ** 2
    worst, small = int(np.argmax(errors)), int(np.argmin(errors))
    lucky[0, worst] = truth[worst]  # one point far better, another a little worse: no proof
    lucky[0, small] = truth[small] + 0.5
    assert np.mean((lucky[0] - truth) ** 2) < np.mean((linear[0] - truth) ** 2)
    assert not _clearly_better(lucky, linear, truth)
    assert not _clearly_better(better[:, :1], linear[:, :1], truth[:1])  # one point proves nothing


def test_without_a_clear_win_of_the_fitted_blend_the_kriged_answer_or_the_cubic_may_serve():
    from models.latent.skill import KRIGED_ONLY, LINEAR_ONLY, PCHIP_ONLY, _unless_clearly_better

    rng = np.random.default_rng(3)
    truth = rng.normal(size=200)  # [M]
    samples = 5.0 + 0.1 * rng.normal(size=(50, 200))  # a useless model, mean about 5
    mean = samples.mean(axis=0)
    to_line = truth + rng.normal(scale=1.0, size=200) - mean  # linear interpolation's answer
    to_kriged = truth + rng.normal(scale=0.5, size=200) - mean  # the kriged answer's, better
    features = np.stack([to_line, np.zeros(200), to_kriged, to_line])  # restore alone: the line
    variance = np.full(200, 0.25)
    bad = samples  # the fitted blend, as measured out of sample: the model alone
    weights, served = _unless_clearly_better(samples, features, truth, variance, bad)
    assert weights == KRIGED_ONLY
    np.testing.assert_allclose(served.mean(axis=0), mean + to_kriged)
    useless = np.stack([to_line, np.zeros(200), np.zeros(200), to_line])  # nothing beats it
    weights, served = _unless_clearly_better(samples, useless, truth, variance, bad)
    assert weights == LINEAR_ONLY
    np.testing.assert_allclose(served.mean(axis=0), mean + to_line)
    assert _unless_clearly_better(samples, features, truth, None, bad)[0] == LINEAR_ONLY
    to_cubic = truth + rng.normal(scale=0.4, size=200) - mean  # the monotone cubic's, best
    cubic = np.stack([to_line, np.zeros(200), to_kriged, to_cubic])
    weights, served = _unless_clearly_better(samples, cubic, truth, variance, bad)
    assert weights == PCHIP_ONLY
    np.testing.assert_allclose(served.mean(axis=0), mean + to_cubic)
    assert _unless_clearly_better(samples, cubic, truth, None, bad)[0] == PCHIP_ONLY
    good = samples - mean + truth  # a fitted blend that is right everywhere wins outright
    weights, served = _unless_clearly_better(samples, features, truth, variance, good)
    assert weights is None and served is good


def test_a_forecast_blend_that_does_no_better_than_the_naive_forecast_serves_it():
    from models.latent.skill import NAIVE_ONLY, _naive_unless_better

    rng = np.random.default_rng(4)
    truth = rng.normal(size=60)  # [M]
    samples = truth + 0.8 + 0.1 * rng.normal(size=(50, 60))  # a model off by 0.8
    mean = samples.mean(axis=0)
    features = (truth + 0.3 * rng.normal(size=60) - mean)[None]  # [1, M] to the naive forecast
    weight, served = _naive_unless_better(samples, features, truth, samples)
    assert weight == NAIVE_ONLY
    np.testing.assert_allclose(served.mean(axis=0), mean + features[0])
    naive_mse = np.mean((mean + features[0] - truth) ** 2)  # about 0.09
    for noise in (0.2, 0.4):  # a fitted blend a little better, then a little worse
        blend = samples - mean + truth + noise * rng.normal(size=60)
        wins = bool(np.mean((blend.mean(axis=0) - truth) ** 2) < naive_mse)
        assert wins == (noise == 0.2)
        weight, served = _naive_unless_better(samples, features, truth, blend)
        assert (weight, served is blend) == ((None, True) if wins else (NAIVE_ONLY, False))


def test_the_forecast_floor_is_not_ruled_by_contexts_that_barely_vary():
    from models.latent.skill import share_of_variance

    squared = np.array([1.0, 1.0, 1.0, 1.0, 4.0])
    variance = np.array([10.0, 10.0, 10.0, 1e-6, 20.0])  # one context almost flat
    dims = np.array([0, 0, 0, 0, 1])
    np.testing.assert_allclose(share_of_variance(squared, variance, dims, 3), [4 / 30, 0.2, 0.0])


def test_a_dimension_whose_contexts_are_constant_gets_no_floor():
    """A constant series held out left nothing to measure the errors against: the floor was
    infinite, and every forecast of the model NaN."""
    from models.latent.skill import share_of_variance

    squared = np.array([1.0, 0.5, 2.0])
    variance = np.array([0.0, 0.0, 4.0])
    dims = np.array([0, 0, 1])
    np.testing.assert_array_equal(share_of_variance(squared, variance, dims, 2), [0.0, 0.5])
    stored = Calibration(extrapolation_floor=(0.5, 0.5)).to_json()
    stored["extrapolation_floor"] = [math.inf, 0.5]  # as versions before the fix wrote it
    assert Calibration.from_json(stored).extrapolation_floor == (0.0, 0.5)


def test_a_constant_training_series_leaves_every_forecast_finite():
    """Four short series, the first constant (held out for interpolation under seed 0): the
    fitted floor is finite and so is every forecast, for the training series and a new one."""
    times = np.arange(12.0)
    series = [_series(times, [(i * k) % 5 for i in range(12)], f"d{k}") for k in range(4)]
    trained, calibration, _ = _assessed_untrained_model(series)
    assert calibration.extrapolation_floor is not None
    assert all(math.isfinite(x) for x in calibration.extrapolation_floor)
    for context in [*series, _series([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])]:
        prediction = predict(trained, context, np.array([5.5, 13.0]))
        assert np.isfinite(prediction.mean).all()
        assert all(np.isfinite(q).all() for q in prediction.quantiles.values())


@pytest.mark.parametrize("weight", [1.0, 0.5])
def test_a_forecast_leaning_on_the_return_to_the_mean_is_as_wide_as_that_return_is_unsure(
    weight: float,
):
    """The AR(1) forecast's variance v (1 - exp(-2 r h)) grows to the series' variance v: a
    forecast leaning on it by ``weight`` is given at least weight^2 times that at each time."""
    (series,) = mean_reverting(0).series
    calibration = Calibration(extrapolation_blend=ExtrapolationBlend("mean_reversion", weight))
    reversion = fit_reversion(series.times, series.values[:, 0])
    assert reversion.rate > 0
    times = series.times[-1] + np.array([0.01, 0.5, 5.0, 50.0])
    samples = np.random.default_rng(0).normal(size=(20_000, 4, 1)) * 1e-3
    widened = calibration.widen(samples, np.ones(4, dtype=bool), series, times)
    expected = weight**2 * reversion.spread(times)
    np.testing.assert_allclose(widened.var(axis=0)[:, 0], expected, rtol=1e-6)
    assert expected[-1] == pytest.approx(weight**2 * series.values.var(), rel=1e-6)
    leaning_on_the_line = Calibration(extrapolation_blend=ExtrapolationBlend("linear_trend", 1.0))
    np.testing.assert_allclose(
        leaning_on_the_line.widen(samples, np.ones(4, bool), series, times), samples
    )


def test_answers_without_the_model_are_also_judged_on_the_training_series_gaps():
    from models.latent.skill import LINEAR_ONLY, PCHIP_ONLY, _unless_clearly_better

    rng = np.random.default_rng(4)
    truth = rng.normal(size=3)  # a family's few held-out points: they prove nothing alone
    samples = rng.normal(size=(50, 3))
    mean = samples.mean(axis=0)
    to_line = truth + np.array([0.5, -0.4, 0.3]) - mean
    to_cubic = truth + np.array([0.3, -0.3, 0.6]) - mean
    features = np.stack([to_line, np.zeros(3), np.zeros(3), to_cubic])
    assert _unless_clearly_better(samples, features, truth, None, samples)[0] == LINEAR_ONLY
    line_errors = rng.normal(scale=1.0, size=300) ** 2  # the training series' gaps
    cubic_errors = rng.normal(scale=0.6, size=300) ** 2
    extra = {LINEAR_ONLY: line_errors, PCHIP_ONLY: cubic_errors}
    weights, served = _unless_clearly_better(samples, features, truth, None, samples, extra)
    assert weights == PCHIP_ONLY
    np.testing.assert_allclose(served.mean(axis=0), mean + to_cubic)
    extra = {LINEAR_ONLY: cubic_errors, PCHIP_ONLY: line_errors}  # there the line wins
    assert _unless_clearly_better(samples, features, truth, None, samples, extra)[0] == LINEAR_ONLY


def test_model_free_errors_score_the_line_and_the_cubic_at_hidden_points():
    from models.latent.holdout import HeldOut
    from models.latent.skill import LINEAR_ONLY, PCHIP_ONLY, _model_free_errors

    times = np.arange(8.0)
    values = times**2  # a convex curve: the chord lies above it, the monotone cubic closer
    hidden = np.array([2, 5])
    kept = np.setdiff1d(np.arange(8), hidden)
    case = HeldOut(_series(times[kept], values[kept]), times[hidden], values[hidden, None])
    errors, series = _model_free_errors([case], None)
    assert set(errors) == {LINEAR_ONLY, PCHIP_ONLY} and series.tolist() == ["s", "s"]
    np.testing.assert_allclose(errors[LINEAR_ONLY], [1.0, 1.0])  # the chord is 1 above t^2
    assert np.all(errors[PCHIP_ONLY] < errors[LINEAR_ONLY])
    assert _model_free_errors([], None)[0] == {}


def test_held_out_series_are_the_units_of_evidence_when_whole_series_are_held_out():
    from models.latent.skill import _clear_gain

    rng = np.random.default_rng(5)
    gain = 1.0 + 0.1 * rng.normal(size=40)  # every entry better...
    assert _clear_gain(gain)
    one_series = np.array(["a"] * 40)
    assert not _clear_gain(gain, one_series)  # ...but from one series: one unit, no evidence
    two = np.array(["a"] * 20 + ["b"] * 20)
    assert not _clear_gain(np.r_[gain[:20], -gain[20:]], two)  # one series better, one worse
    many = np.repeat(np.arange(8).astype(str), 5)
    assert _clear_gain(gain, many)
    mixed = np.where(np.repeat(np.arange(8), 5) % 2 == 0, gain, -0.9 * gain)
    assert not _clear_gain(mixed, many)  # half the series better, half worse


def test_a_gain_is_clear_by_the_pipelines_paired_test_not_by_one_standard_error():
    from models.forecast.policy import DEFAULT_POLICY
    from models.forecast.selection import paired_p_value
    from models.latent.skill import _clear_gain

    noise = np.random.default_rng(1).normal(size=40)
    noise = (noise - noise.mean()) / noise.std(ddof=1)  # mean 0, sd 1
    for t, clear in ((1.15, False), (1.5, True)):  # standard errors of the mean gain
        gain = noise + t / np.sqrt(len(noise))
        assert gain.mean() > gain.std(ddof=1) / np.sqrt(len(gain))  # past one standard error
        assert (paired_p_value(gain) < DEFAULT_POLICY.significance) == clear
        assert _clear_gain(gain) == clear
    series = np.repeat(np.arange(4), 10)  # 4 held-out series, each one unit
    mixed = np.repeat([2.0, 2.0, 2.0, -3.0], 10)  # entry by entry a clear gain ...
    assert _clear_gain(mixed + 1e-3 * noise) and not _clear_gain(mixed, series)  # ... by unit none
    assert _clear_gain(np.full(40, 0.2), series)  # every unit gains alike
    assert not _clear_gain(np.full(40, 0.2), np.zeros(40))  # one unit proves nothing
