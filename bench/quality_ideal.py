"""The ideal predictor of the synthetic long cases: each held-out observation's law given the
training points, under the family's true law and parameters.

No method can expect to beat it, so a target it misses cannot be met on that case's data; the
benchmark prints its figures beside the latent ODE's.

- A family whose values are a function of time drawn once (``trend_season``,
  ``drifting_oscillator``): the noiseless value, spread by the observation noise.
- A family with a random process behind it (``mean_reverting``, an Ornstein-Uhlenbeck path):
  Gaussian process regression with the process's covariance plus the observation noise, the
  conditional mean and variance of each held-out observation (what a Kalman smoother with the true
  parameters answers).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from quality_scores import QUANTILE_LEVELS, Forecast

from models.series import Series
from models.synthetic import LongFamily, OrnsteinUhlenbeck


def ideal_forecast(family: LongFamily, seed: int, training: Series, query: np.ndarray) -> Forecast:
    """The ideal forecast at ``query`` [Q] (times of ``family.generate(seed)`` left out of
    ``training``), [Q, 1]."""
    if family.process is None:
        (clean,) = family.generate(seed, 0.0).series
        rows = np.searchsorted(clean.times, query)
        if not np.array_equal(clean.times[rows], query):
            raise ValueError("the ideal forecast is known at the series' own times only")
        mean = clean.values[rows]
        return _gaussian(mean, np.full_like(mean, family.noise))
    return _conditional(family.process(seed), family.noise, training, query)


def _conditional(
    process: OrnsteinUhlenbeck, noise: float, training: Series, query: np.ndarray
) -> Forecast:
    """Gaussian process regression: the law of the noisy observation at ``query`` given the
    training points, under ``process`` and white ``noise``."""
    times, values = training.times, training.values[:, 0]
    covariance = process.covariance(times, times) + noise**2 * np.eye(len(times))
    factor = np.linalg.cholesky(covariance)  # [T, T]
    cross = np.linalg.solve(factor, process.covariance(times, query))  # [T, Q]
    whitened = np.linalg.solve(factor, values - process.mean)  # [T]
    mean = process.mean + cross.T @ whitened
    variance = process.variance - np.sum(cross**2, axis=0) + noise**2
    return _gaussian(mean[:, None], np.sqrt(variance)[:, None])


def _gaussian(mean: np.ndarray, std: np.ndarray) -> Forecast:
    """Normal laws of mean and standard deviation [Q, D], as a ``Forecast``."""
    unit = NormalDist()
    return Forecast(mean, {level: mean + unit.inv_cdf(level) * std for level in QUANTILE_LEVELS})
