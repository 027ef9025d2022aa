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

Run on its own, it scores the ideal predictor on many data seeds of each family (the benchmark
uses data seed 0)::

    .venv/bin/python bench/quality_ideal.py --data-seeds 40
"""

from __future__ import annotations

import argparse
import sys
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


def main(argv: list[str] | None = None) -> int:
    """The ideal predictor's figures on many data seeds of each synthetic long family: how often
    the long cases' targets can be met at all, whatever the method."""
    # Imported here: quality_long builds on this module.
    from quality_long import long_targets, long_values, score_long, split_long

    from models.synthetic import LONG_FAMILIES

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-seeds", type=int, default=40, help="data seeds 0..N-1 (40)")
    args = parser.parse_args(argv)
    targets = long_targets("synthetic", with_prophet=False)
    print(f"ideal predictor over data seeds 0-{args.data_seeds - 1}: mean (min-max), share met")
    for name, family in LONG_FAMILIES.items():
        runs = []
        for seed in range(args.data_seeds):
            split = split_long(family.generate(seed, None).series[0], family.season)
            ideal = (
                ideal_forecast(family, seed, split.training, split.interp_times),
                ideal_forecast(family, seed, split.training, split.extrap_times),
            )
            runs.append(long_values(score_long(split, ideal, None)))
        for figure, target in targets.items():
            values = np.array([run[figure] for run in runs])
            met = np.mean([target.ok(v) for v in values])
            print(
                f"{name:20} {figure:21} {target!s:7} {values.mean():7.3f} "
                f"({values.min():.3f}-{values.max():.3f})  met on {100 * met:.0f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
