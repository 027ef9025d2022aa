"""A seasonal base under the ODE: a least-squares line plus Fourier terms at the season.

Long series with a season (``models.seasons``) are modelled as base + residual: the base carries
the trend and the average seasonal shape, which least squares fits well from years of data, and
the latent ODE learns what the base leaves (changes of shape, cycles that are not calendar ones,
the noise level). The base is refitted on whatever context a prediction reads, so a new series
sent to ``POST /predict`` gets its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..series import Series

# Harmonics of the season in the base: enough for a skewed yearly shape, few enough to fit from
# two or three seasons.
HARMONICS = 3


@dataclass(frozen=True)
class FittedBase:
    """A base fitted to one series.

    Attributes:
        period: the season, in the data's time units.
        origin: the time the trend is measured from (the series' last observation).
        coefficients: [2 + 2 * HARMONICS, D]: level, slope per season, then a sine and a cosine
            per harmonic.
    """

    period: float
    origin: float
    coefficients: np.ndarray

    def __call__(self, times: np.ndarray) -> np.ndarray:
        """The base at ``times`` [T]: [T, D]."""
        return _design(times, self.period, self.origin) @ self.coefficients


def fit_base(series: Series, period: float) -> FittedBase:
    """Least squares on each dimension's observed points (a dimension with too few points for
    every term keeps only its mean)."""
    origin = float(series.times[-1])
    design = _design(series.times, period, origin)
    coefficients = np.zeros((design.shape[1], series.dims))
    for d in range(series.dims):
        observed = ~np.isnan(series.values[:, d])
        if observed.sum() > 2 * design.shape[1]:
            solution, *_ = np.linalg.lstsq(design[observed], series.values[observed, d], rcond=None)
            coefficients[:, d] = solution
        elif observed.any():
            coefficients[0, d] = series.values[observed, d].mean()
    return FittedBase(period, origin, coefficients)


def residuals(series: Series, base: FittedBase) -> Series:
    """``series`` less its base."""
    return Series(series.id, series.times, series.values - base(series.times))


def _design(times: np.ndarray, period: float, origin: float) -> np.ndarray:
    """[T, 2 + 2 * HARMONICS]: 1, time in seasons from ``origin``, sin and cos per harmonic."""
    phase = 2 * np.pi * (np.asarray(times, dtype=np.float64) - origin) / period
    columns = [np.ones_like(phase), phase / (2 * np.pi)]
    for k in range(1, HARMONICS + 1):
        columns += [np.sin(k * phase), np.cos(k * phase)]
    return np.stack(columns, axis=1)
