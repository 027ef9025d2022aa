"""A seasonal base under the ODE: a least-squares trend plus Fourier terms at the season (and at
the calendar periods beside it in datetime data: a week beside a year, a week beside a day).

Long series with a season (``models.seasons``) are modelled as base + residual: the base carries
the trend and the average seasonal shape, which least squares fits well from years of data, and
the latent ODE learns what the base leaves (changes of shape, cycles that are not calendar ones,
the noise level). The base is refitted on whatever context a prediction reads, so a new series
sent to ``POST /predict`` gets its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..seasons import CALENDAR_PERIODS_S, MIN_CYCLES, MIN_OBSERVED, explains_significantly
from ..series import Series, TimeKind

# Harmonics of the season in the base: enough for a skewed yearly shape, few enough to fit from
# two or three seasons.
HARMONICS = 3
# The trend's slope may change at a knot every KNOT_SEASONS seasons, at most MAX_KNOTS of them
# (Prophet's changepoints: 25, at fixed places), each change shrunk by a ridge of TREND_RIDGE per
# observation: a forecast goes on with the latest years' slope, not the whole history's, and the
# ridge keeps the knots from following the noise (bench/experiments/long-series/README.md,
# section 3).
KNOT_SEASONS = 2.0
MAX_KNOTS = 25
TREND_RIDGE = 1.0
# A calendar period joins the base of datetime data beside its season (``calendar_companions``)
# when its sine and cosine explain what the season's base leaves better by this many times the
# variance they leave (the statistic of ``models.seasons``' drift test): daily sales have a week
# beside their year, hourly loads a week beside their day. It must be another period than the
# season (by more than COMPANION_APART), span MIN_CYCLES cycles and hold 4 typical spacings.
COMPANION_SIGNIFICANCE = 20.0
COMPANION_APART = 0.1


@dataclass(frozen=True)
class FittedBase:
    """A base fitted to one series.

    Attributes:
        period: the season, in the data's time units.
        origin: the time the trend is measured from (the series' last observation).
        knots: where the trend's slope may change, [K] times (none: one line).
        coefficients: [2 + 2 * HARMONICS * (1 + C) + K, D]: level, slope per season, a sine and
            a cosine per harmonic of the season, then of each of the C ``companions``, then the
            change of slope at each knot.
        companions: calendar periods beside the season (``calendar_companions``).
    """

    period: float
    origin: float
    coefficients: np.ndarray
    knots: tuple[float, ...] = ()
    companions: tuple[float, ...] = ()

    def __call__(self, times: np.ndarray) -> np.ndarray:
        """The base at ``times`` [T]: [T, D]."""
        design = _design(times, self.period, self.origin, self.knots, self.companions)
        return design @ self.coefficients


def fit_base(
    series: Series, period: float, *, bends: bool = True, companions: tuple[float, ...] = ()
) -> FittedBase:
    """Least squares on each dimension's observed points (a dimension with too few points for
    every term keeps only its mean); ``bends`` False fits one line for the trend."""
    origin = float(series.times[-1])
    knots = trend_knots(float(series.times[0]), origin, period) if bends else ()
    design = _design(series.times, period, origin, knots, companions)
    coefficients = np.zeros((design.shape[1], series.dims))
    for d in range(series.dims):
        observed = ~np.isnan(series.values[:, d])
        if observed.sum() > 2 * (design.shape[1] - len(knots)):
            coefficients[:, d] = _ridge_fit(design[observed], series.values[observed, d], knots)
        elif observed.any():
            coefficients[0, d] = series.values[observed, d].mean()
    return FittedBase(period, origin, coefficients, knots, companions)


def calendar_companions(series: Series, time_kind: TimeKind, season: float) -> tuple[float, ...]:
    """The calendar periods (a year, a week, a day) that join the base of ``series`` beside
    ``season`` (see ``COMPANION_SIGNIFICANCE``), longest first; none for numeric times.

    Judged on the first dimension with ``MIN_OBSERVED`` observations, on what the base at the
    season (one line for its trend) leaves."""
    if time_kind is not TimeKind.DATETIME:
        return ()
    observed = next(
        (d for d in range(series.dims) if (~np.isnan(series.values[:, d])).sum() >= MIN_OBSERVED),
        None,
    )
    if observed is None:
        return ()
    kept = ~np.isnan(series.values[:, observed])
    times, values = series.times[kept], series.values[kept, observed]
    span, spacing = float(times[-1] - times[0]), float(np.median(np.diff(times)))
    first = Series(series.id, times, values[:, None])
    residual = residuals(first, fit_base(first, season, bends=False)).values[:, 0]
    companions = []
    for period in CALENDAR_PERIODS_S:
        apart = abs(period / season - 1) > COMPANION_APART
        fits = 4 * spacing <= period and MIN_CYCLES * period <= span
        if (
            apart
            and fits
            and explains_significantly(times, residual, period, COMPANION_SIGNIFICANCE)
        ):
            companions.append(period)
    return tuple(companions)


def trend_knots(start: float, stop: float, period: float) -> tuple[float, ...]:
    """Knots splitting [start, stop] into equal segments of about ``KNOT_SEASONS`` seasons, or
    longer ones beyond ``MAX_KNOTS`` (none for a span under two such segments: one line)."""
    segments = max(1, min(MAX_KNOTS + 1, int((stop - start) / (KNOT_SEASONS * period))))
    return tuple(float(k) for k in np.linspace(start, stop, segments + 1)[1:-1])


def _ridge_fit(design: np.ndarray, values: np.ndarray, knots: tuple[float, ...]) -> np.ndarray:
    """Least squares of ``values`` [N] on ``design`` [N, P], the last ``len(knots)`` columns'
    coefficients (the slope changes) shrunk by ``TREND_RIDGE`` per observation: [P]. Solved on
    the P x P normal equations: a prediction refits the base on its whole context."""
    gram = design.T @ design
    changes = np.arange(design.shape[1] - len(knots), design.shape[1])
    gram[changes, changes] += TREND_RIDGE * len(values)
    solution, *_ = np.linalg.lstsq(gram, design.T @ values, rcond=None)
    return solution


def residuals(series: Series, base: FittedBase) -> Series:
    """``series`` less its base."""
    return Series(series.id, series.times, series.values - base(series.times))


def _design(
    times: np.ndarray,
    period: float,
    origin: float,
    knots: tuple[float, ...],
    companions: tuple[float, ...] = (),
) -> np.ndarray:
    """[T, 2 + 2 * HARMONICS * (1 + C) + K]: 1, time in seasons from ``origin``, sin and cos
    per harmonic of the season and of each companion, and per knot the seasons since it (0
    before it)."""
    times = np.asarray(times, dtype=np.float64)
    phase = 2 * np.pi * (times - origin) / period
    columns = [np.ones_like(phase), phase / (2 * np.pi)]
    for cycle in (period, *companions):
        angle = 2 * np.pi * (times - origin) / cycle
        for k in range(1, HARMONICS + 1):
            columns += [np.sin(k * angle), np.cos(k * angle)]
    columns += [np.maximum(times - knot, 0.0) / period for knot in knots]
    return np.stack(columns, axis=1)
