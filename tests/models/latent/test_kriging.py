"""Kriging: Matérn kernels, their maximum-likelihood fit, and answers from nearby observations."""

from __future__ import annotations

import numpy as np
import pytest

from models.latent import kriging
from models.latent.kriging import (
    BLOCK,
    EXACT_POINTS,
    FIT_POINTS,
    NEIGHBOURS,
    Kernel,
    Kriging,
    fit_kernel,
    fit_kriging,
    fit_trend,
    krige,
    matern,
    process_variance,
)
from models.series import Series


def _gp_draw(times: np.ndarray, kernel: Kernel, seed: int) -> np.ndarray:
    """A draw of the Matérn process (variance 1) at ``times`` plus its white noise."""
    rng = np.random.default_rng(seed)
    gram = kernel.correlation(times[:, None] - times[None, :]) + 1e-9 * np.eye(len(times))
    process = np.linalg.cholesky(gram) @ rng.normal(size=len(times))
    return process + np.sqrt(kernel.noise_share) * rng.normal(size=len(times))


def _full_posterior(kernel: Kernel, times, values, query) -> tuple[np.ndarray, np.ndarray]:
    """The exact posterior mean and the variance of a new observation (process variance 1)."""
    gram = kernel.correlation(times[:, None] - times[None, :])
    gram += (kernel.noise_share + kriging.JITTER) * np.eye(len(times))
    cross = kernel.correlation(query[:, None] - times[None, :])
    explained = np.einsum("qn,qn->q", cross, np.linalg.solve(gram, cross.T).T)
    return cross @ np.linalg.solve(gram, values), 1.0 - explained + kernel.noise_share


def test_matern_correlations_match_their_closed_forms():
    r = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(matern(r, 0.5), np.exp(-r))
    np.testing.assert_allclose(matern(-r, 1.5), (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r))
    s = np.sqrt(5) * r
    np.testing.assert_allclose(matern(r, 2.5), (1 + s + s**2 / 3) * np.exp(-s))


def test_a_kernel_refuses_what_is_not_a_kernel():
    with pytest.raises(ValueError, match="smoothness"):
        Kernel(1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="length"):
        Kernel(0.5, 0.0, 0.1)
    with pytest.raises(ValueError, match="noise"):
        Kernel(0.5, 1.0, -0.1)


def test_krige_is_the_gaussian_process_posterior():
    rng = np.random.default_rng(0)
    for size in (NEIGHBOURS - 4, EXACT_POINTS):  # fewer than a window; all, one factor
        times = np.sort(rng.uniform(0, 10, size))
        values = np.sin(times) + 0.1 * rng.normal(size=len(times))
        widest = int(np.argmax(np.diff(times)))
        gap = (times[widest] + times[widest + 1]) / 2
        query = np.array([-1.0, 0.3, gap, 9.9, 12.0, times[3]])
        for kernel in (Kernel(0.5, 2.0, 0.05), Kernel(2.5, 1.0, 0.3)):
            mean, share = krige(kernel, times, values, query)
            exact_mean, exact_share = _full_posterior(kernel, times, values, query)
            np.testing.assert_allclose(mean, exact_mean)
            np.testing.assert_allclose(share, exact_share)
            assert share[-1] < share[2] < share[-2]  # on an observation, in a gap, far beyond


def test_krige_reads_the_nearest_observations_only_and_agrees_with_the_whole_series():
    """Beyond NEIGHBOURS points the answer comes from a window around each query; with a
    length of a few spacings the rest of the series changes nothing that matters."""
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 100, 400))
    kernel = Kernel(1.5, 2.0, 0.05)
    values = _gp_draw(times, kernel, seed=2)
    query = np.sort(rng.uniform(0, 100, 50))
    full_mean, full_share = _full_posterior(kernel, times, values, query)
    mean, share = krige(kernel, times, values, query)
    np.testing.assert_allclose(mean, full_mean, atol=1e-3)
    np.testing.assert_allclose(share, full_share, atol=1e-3)


def test_krige_answers_in_chunks_as_at_once(monkeypatch: pytest.MonkeyPatch):
    times = np.linspace(0, 10, EXACT_POINTS + 40)
    values = np.cos(times)
    query = np.linspace(-1, 11, 37)
    kernel = Kernel(2.5, 1.5, 0.01)
    whole = krige(kernel, times, values, query)
    monkeypatch.setattr(kriging, "QUERY_CHUNK", 5)
    for chunked, at_once in zip(krige(kernel, times, values, query), whole, strict=True):
        np.testing.assert_array_equal(chunked, at_once)


def test_without_noise_krige_returns_the_observations_and_with_much_noise_their_trend():
    times = np.linspace(0, 5, 20)
    values = np.sin(times)
    exact, share = krige(Kernel(2.5, 1.0, 0.0), times, values, times)
    np.testing.assert_allclose(exact, values, atol=1e-5)
    assert share.max() < 1e-5  # nothing left to learn about an observation without noise
    shrunk, share = krige(Kernel(2.5, 1.0, 1e6), times, values, times)
    assert np.abs(shrunk).max() < 1e-4  # residuals of pure noise: back to the trend (0)
    np.testing.assert_allclose(share, 1.0 + 1e6, rtol=1e-6)


def test_the_fit_finds_a_rough_process_rough_and_a_smooth_one_smooth():
    times = np.sort(np.random.default_rng(3).uniform(0, 300, FIT_POINTS))
    for truth in (Kernel(0.5, 20.0, 0.01), Kernel(2.5, 5.0, 0.001)):
        values = _gp_draw(times, truth, seed=4)
        fitted = fit_kernel([(times[i : i + BLOCK], values[i : i + BLOCK]) for i in (0, 200, 400)])
        assert fitted is not None
        assert fitted.smoothness == truth.smoothness
        assert truth.length / 2.5 < fitted.length < truth.length * 2.5


def test_white_noise_is_kriged_to_its_trend():
    rng = np.random.default_rng(5)
    times = np.arange(300.0)
    noisy = Series("s", times, (0.02 * times + rng.normal(size=300))[:, None])
    fitted = fit_kriging([noisy], None, bends=True)
    assert fitted is not None
    query = np.arange(0.5, 299.0, 7.0)
    kriged = fitted(noisy, query).mean[:, 0]
    trend = fit_trend(noisy, None, True)(query)[:, 0]
    assert np.abs(kriged - trend).max() < 0.25  # the noise has sd 1: barely followed


def test_kriging_fills_gaps_of_a_noisy_smooth_series_better_than_a_straight_line():
    rng = np.random.default_rng(6)
    times = np.sort(rng.uniform(0, 200, 900))
    clean = np.sin(2 * np.pi * times / 23.0) + 0.01 * times
    values = clean + 0.15 * rng.normal(size=len(times))
    hidden = np.zeros(len(times), bool)
    hidden[rng.choice(np.arange(1, len(times) - 1), 270, replace=False)] = True
    context = Series("s", times[~hidden], values[~hidden, None])
    fitted = fit_kriging([context], None, bends=True)
    assert fitted is not None
    answer = fitted(context, times[hidden])
    kriged = answer.mean[:, 0]
    line = np.interp(times[hidden], context.times, context.values[:, 0])
    kriged_mse = np.mean((kriged - values[hidden]) ** 2)
    line_mse = np.mean((line - values[hidden]) ** 2)
    assert kriged_mse < 0.85 * line_mse
    # its variance is that of its errors: the standardised errors have about unit variance
    z = (values[hidden] - kriged) / np.sqrt(answer.variance[:, 0])
    assert 0.8 < z.std() < 1.25


def test_the_process_variance_comes_from_the_context_so_a_rescaled_series_gets_its_own():
    times = np.sort(np.random.default_rng(7).uniform(0, 300, 500))
    kernel = Kernel(1.5, 4.0, 0.05)
    values = 3.0 * _gp_draw(times, kernel, seed=8)  # process variance 9
    assert 9.0 / 1.5 < process_variance(kernel, times, values) < 9.0 * 1.5
    assert process_variance(kernel, times, 10 * values) == pytest.approx(
        100 * process_variance(kernel, times, values)
    )


def test_the_process_variance_of_a_short_context_is_its_exact_maximum_likelihood():
    times = np.sort(np.random.default_rng(9).uniform(0, 30, EXACT_POINTS - 3))
    kernel = Kernel(2.5, 3.0, 0.1)
    values = 2.0 * _gp_draw(times, kernel, seed=10)
    quadratic = values @ np.linalg.solve(kernel.gram(times), values)
    assert process_variance(kernel, times, values) == pytest.approx(quadratic / len(times))


@pytest.mark.parametrize("points", [EXACT_POINTS - 20, EXACT_POINTS, EXACT_POINTS + 40])
def test_a_kriged_answer_is_krige_on_the_process_variance_of_its_context(points: int):
    times = np.sort(np.random.default_rng(11).uniform(0, 40, points))
    kernel = Kernel(1.5, 2.0, 0.05)
    values = 2.0 * _gp_draw(times, kernel, seed=12)[:, None]
    query = np.linspace(-1.0, 41.0, 25)
    series = Series("s", times, values)
    answer = kriging.Kriging((kernel,))(series, query)
    trend = fit_trend(series, None, True)
    residual = values[:, 0] - trend(times)[:, 0]
    mean, share = krige(kernel, times, residual, query)
    variance = share * process_variance(kernel, times, residual)
    np.testing.assert_allclose(answer.mean[:, 0], trend(query)[:, 0] + mean, rtol=1e-10)
    np.testing.assert_allclose(answer.variance[:, 0], variance, rtol=1e-10)


def test_the_trend_is_the_seasonal_base_with_a_season_and_a_line_without():
    times = np.arange(0.0, 120.0)
    values = 3.0 + 0.5 * times + 2.0 * np.sin(2 * np.pi * times / 12.0)
    series = Series("s", times, values[:, None])
    np.testing.assert_allclose(fit_trend(series, 12.0, True)(times)[:, 0], values, atol=1e-6)
    line = fit_trend(series, None, True)(times)[:, 0]
    np.testing.assert_allclose(np.polyfit(times, line, 1), np.polyfit(times, values, 1))


def test_dimensions_without_enough_points_are_not_kriged():
    times = np.arange(40.0)
    values = np.column_stack([np.sin(times / 3), np.full(40, np.nan)])
    values[[3, 17], 1] = [1.0, 2.0]  # two points: too few to fit a kernel
    series = Series("s", times, values)
    fitted = fit_kriging([series], None, bends=True)
    assert fitted is not None and fitted.kernels[1] is None
    answer = fitted(series, np.array([5.5, 20.5]))
    assert np.isfinite(answer.mean[:, 0]).all() and np.isnan(answer.mean[:, 1]).all()
    assert np.isfinite(answer.variance[:, 0]).all() and np.isnan(answer.variance[:, 1]).all()
    assert fit_kriging([Series("s", times[:5], values[:5, :1])], None, bends=True) is None


def test_the_fit_reads_the_latest_points_of_each_series_in_bounded_blocks():
    long = np.arange(1000.0)
    blocks = kriging._blocks([long, np.arange(50.0)], [np.sin(long), np.ones(50)])
    assert sum(len(t) for t, _ in blocks) == FIT_POINTS
    assert all(3 <= len(t) <= BLOCK for t, _ in blocks)
    assert blocks[-1][0][-1] == 999.0  # the latest points of the first series; none of the second
    fewer = kriging._blocks([long], [np.sin(long)], limit=150)
    assert sum(len(t) for t, _ in fewer) == 150


def test_many_dimensions_share_the_fit_budget(monkeypatch: pytest.MonkeyPatch):
    read = []
    fit = kriging.fit_kernel
    monkeypatch.setattr(
        kriging,
        "fit_kernel",
        lambda blocks: read.append(sum(len(t) for t, _ in blocks)) or fit(blocks),
    )
    times = np.arange(1000.0)
    for dims, each in ((2, FIT_POINTS), (8, 300), (20, kriging.FIT_POINTS_LEAST)):
        read.clear()
        values = np.sin(times[:, None] / 7.0 + np.arange(dims))
        fit_kriging([Series("s", times, values)], None, bends=True)
        assert read == [each] * dims


def test_the_trend_carries_the_base_companions_and_keeps_them_through_json():
    times = np.arange(0.0, 240.0)
    values = 2.0 * np.sin(2 * np.pi * times / 60.0) + np.sin(2 * np.pi * times / 7.0)
    series = Series("s", times, values[:, None])
    trend = fit_trend(series, 60.0, False, (7.0,))
    np.testing.assert_allclose(trend(times)[:, 0], values, atol=1e-6)
    kriging = fit_kriging([series], 60.0, False, (7.0,))
    assert kriging is not None and kriging.companions == (7.0,)
    assert Kriging.from_json(kriging.to_json()) == kriging
