"""Forecasting a series from its family: where the other series went at the same times.

A family of curves that share a time origin (hours since a dose, days since a birth) carries
what no per-series method sees: the course curves like this one take next. Its population-average
curve (Diggle, Heagerty, Liang & Zeger, *Analysis of Longitudinal Data*, 2002, chapter 3) is
``MeanCurve``: per time of a grid, the mean of the series' linear interpolations there (each
series counts inside its own observed range). Two candidates read it:

- ``family_mean``: the mean curve itself;
- ``family_shape``: the mean curve moved to pass through the series' last observation, the
  family's course from where this series stands;
- ``family_scaled``: the mean curve scaled to pass through it (positive values only), for
  families whose curves differ by a factor (a dose, a size) rather than a shift.

Backtests take each series' own curve out of the mean (``MeanCurve.without``), so that a series
never forecasts itself. Datetime data are left out: their series share a calendar, so the other
series' later values are no more known than this one's when it is forecast, and a backtest that
read them would flatter the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .candidates import Candidate, Forecaster, Variant
from .policy import Policy

FAMILY_MEAN = "family_mean"
FAMILY_SHAPE = "family_shape"
FAMILY_SCALED = "family_scaled"
FAMILY_CANDIDATES = (FAMILY_MEAN, FAMILY_SHAPE, FAMILY_SCALED)
# Their rank among the candidates (``Candidate.complexity``): above the drift, whose one
# parameter comes from the series alone.
FAMILY_COMPLEXITY = 2


@dataclass(frozen=True)
class MeanCurve:
    """A family's mean curve in one dimension, kept as sums so that a series can be taken out.

    Attributes:
        times: [G] increasing grid times.
        sums: [G] the sum of the series' linear interpolations at each grid time.
        counts: [G] how many series' observed ranges hold each grid time.
    """

    times: np.ndarray
    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def fit(cls, curves: list[tuple[np.ndarray, np.ndarray]], points: int) -> MeanCurve:
        """The mean curve of ``curves`` (times [T] increasing, values [T] observed) on the union
        of their times, or at most ``points`` quantiles of it."""
        union = np.unique(np.concatenate([t for t, _ in curves]))
        grid = (
            union
            if len(union) <= points
            else np.unique(np.quantile(union, np.linspace(0, 1, points)))
        )
        sums, counts = np.zeros(len(grid)), np.zeros(len(grid))
        for times, values in curves:
            inside, at = _interpolated(times, values, grid)
            sums[inside] += at
            counts[inside] += 1
        return cls(grid, sums, counts)

    def without(self, times: np.ndarray, values: np.ndarray) -> MeanCurve:
        """The mean curve less one of its series (``times`` [T], ``values`` [T])."""
        inside, at = _interpolated(times, values, self.times)
        sums, counts = self.sums.copy(), self.counts.copy()
        sums[inside] -= at
        counts[inside] -= 1
        return MeanCurve(self.times, sums, counts)

    def __call__(self, query: np.ndarray) -> np.ndarray:
        """The mean at ``query`` [Q]: linear between the grid times some series holds, flat
        beyond them; ValueError when none does."""
        held = self.counts > 0.5
        if not held.any():
            raise ValueError("no series of the family holds any time of the grid")
        mean = self.sums[held] / self.counts[held]
        return np.interp(np.asarray(query, dtype=np.float64), self.times[held], mean)

    def to_json(self) -> dict[str, Any]:
        return {
            "times": self.times.tolist(),
            "sums": self.sums.tolist(),
            "counts": self.counts.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MeanCurve:
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("times", "sums", "counts")]
        if not (arrays[0].ndim == 1 and all(a.shape == arrays[0].shape for a in arrays)):
            raise ValueError("a family's mean curve needs times, sums and counts of one length")
        return cls(*arrays)


def _interpolated(
    times: np.ndarray, values: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which ``grid`` times [G] lie inside the series' observed range, and its linear
    interpolation there."""
    inside = (grid >= times[0]) & (grid <= times[-1])
    return inside, np.interp(grid[inside], times, values)


def family_variant(name: str, curve: MeanCurve) -> Variant:
    """The family candidate ``name`` reading ``curve``."""
    fits = {FAMILY_MEAN: _fit_mean, FAMILY_SHAPE: _fit_shape, FAMILY_SCALED: _fit_scaled}
    if name not in fits:
        raise ValueError(f"unknown family candidate {name!r}")
    fit = fits[name]

    def fitted(times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy):
        return fit(curve, times, values)

    return Variant(Candidate(name, FAMILY_COMPLEXITY, False, False, fitted), None)


def family_variants(curve: MeanCurve | None) -> list[Variant]:
    """The family candidates on ``curve`` (none without one)."""
    return [] if curve is None else [family_variant(n, curve) for n in FAMILY_CANDIDATES]


def _fit_mean(curve: MeanCurve, times: np.ndarray, values: np.ndarray) -> Forecaster:
    curve(times[-1:])  # ValueError when the curve holds nothing
    return lambda query: curve(query)


def _fit_shape(curve: MeanCurve, times: np.ndarray, values: np.ndarray) -> Forecaster:
    offset = float(values[-1] - curve(times[-1:])[0])
    return lambda query: curve(query) + offset


def _fit_scaled(curve: MeanCurve, times: np.ndarray, values: np.ndarray) -> Forecaster:
    at_last = float(curve(times[-1:])[0])
    if not (values[-1] > 0 and at_last > 0):
        raise ValueError("family_scaled needs a positive last value and family mean there")
    factor = float(values[-1]) / at_last
    return lambda query: factor * curve(query)
