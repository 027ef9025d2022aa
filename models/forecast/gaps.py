"""Linear interpolation's spread in a gap, fitted on runs of observations left out of the data.

The straight line between a gap's neighbouring observations is the conditional mean of a random
walk observed with noise. Its error at a time ``a`` after the observation before the gap and
``b`` before the one after has the variance

    s^2 * (noise * (1 + (a^2 + b^2) / (a + b)^2) + walk * a * b / ((a + b) * spacing))

where ``s`` is the context's step scale (``backtest.step_scale``) and ``spacing`` its median
spacing: the first term is the noise of the point asked and of the two neighbours the line
reads, the second the Brownian bridge's. Both coefficients are fitted, by non-negative least
squares, to linear interpolation's squared errors on runs of 1 to ``policy.gap_runs`` consecutive
observations left out of every series: runs of several give gaps wider than one spacing, which
tell the walk from the noise. The errors standardised by that variance give the intervals' shape
(``intervals.ResidualQuantiles``), as backtest residuals do for forecasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls

from ..series import Series
from .backtest import step_scale
from .intervals import COVERAGES, GAUSSIAN, ResidualQuantiles
from .pipeline import observed
from .policy import DEFAULT_POLICY, Policy

MIN_GAP_ERRORS = 2  # two coefficients: fewer left-out errors fit none (a random walk's serves)


@dataclass(frozen=True)
class GapSpread:
    """One dimension's linear-interpolation error variance, in squared step scales.

    Attributes:
        noise: the variance shared by every observation (the white noise).
        walk: the variance a random walk gains over one median spacing.
        quantiles: the standardised errors' quantiles (a Gaussian's on little evidence).
    """

    noise: float = 0.0
    walk: float = 1.0
    quantiles: ResidualQuantiles = GAUSSIAN

    def variance(self, times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The variance [Q] of linear interpolation through ``(times, values)`` [N] (sorted,
        N >= 2) at ``query`` [Q] inside ``[times[0], times[-1]]``."""
        before, after = _neighbours(times, query)
        shape = self._shape(before, after, _spacing(times))
        return step_scale(values) ** 2 * shape

    def _shape(self, before: np.ndarray, after: np.ndarray, spacing: float) -> np.ndarray:
        noise, walk = _terms(before, after, spacing)
        return self.noise * noise + self.walk * walk

    def to_json(self) -> dict[str, Any]:
        return {"noise": self.noise, "walk": self.walk, "quantiles": list(self.quantiles.sizes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GapSpread:
        sizes = tuple(float(x) for x in data["quantiles"])
        if len(sizes) != len(COVERAGES):
            raise ValueError(
                f"a gap spread keeps {len(COVERAGES)} quantile sizes, not {len(sizes)}"
            )
        return cls(float(data["noise"]), float(data["walk"]), ResidualQuantiles(sizes))


def fit_gap_spread(series: Sequence[Series], d: int, policy: Policy = DEFAULT_POLICY) -> GapSpread:
    """Dimension ``d``'s spread, fitted on runs of 1 to ``policy.gap_runs`` observations left
    out of each series of ``series``; a random walk's (``GapSpread()``) on too little evidence."""
    parts = [_left_out_errors(*observed(s, d), policy.gap_runs) for s in series]
    squared = np.concatenate([p[0] for p in parts])
    design = np.concatenate([p[1] for p in parts])
    usable = np.isfinite(squared) & np.isfinite(design).all(axis=1)
    squared, design = squared[usable], design[usable]
    if len(squared) < MIN_GAP_ERRORS or not squared.any():
        return GapSpread()
    (noise, walk), _ = nnls(design, squared)
    fitted = GapSpread(float(noise), float(walk))
    expected = design @ np.array([noise, walk])
    if not (expected > 0).all():
        return GapSpread()
    standardised = np.sqrt(squared / expected)
    if len(standardised) < policy.quantile_residuals:
        return fitted
    sizes = np.maximum.accumulate(np.quantile(standardised, COVERAGES))
    return GapSpread(fitted.noise, fitted.walk, ResidualQuantiles(tuple(map(float, sizes))))


def _left_out_errors(
    times: np.ndarray, values: np.ndarray, runs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation's squared errors [E] in squared step scales, on every run of 1 to
    ``runs`` consecutive inner observations left out, and their design rows [E, 2] (the noise's
    and the walk's term)."""
    n = len(times)
    errors, rows = [], []
    if n < 3:
        return np.empty(0), np.empty((0, 2))
    scale, spacing = step_scale(values), _spacing(times)
    for run in range(1, min(runs, n - 2) + 1):
        left = np.arange(n - run - 1)  # the observation before each run
        right = left + run + 1
        slope = (values[right] - values[left]) / (times[right] - times[left])
        for k in range(1, run + 1):
            inside = left + k
            line = values[left] + slope * (times[inside] - times[left])
            errors.append(((values[inside] - line) / scale) ** 2)
            before, after = times[inside] - times[left], times[right] - times[inside]
            rows.append(np.column_stack(_terms(before, after, spacing)))
    return np.concatenate(errors), np.concatenate(rows)


def _terms(before: np.ndarray, after: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """The noise's and the walk's share [Q] each of the error variance at a time ``before``
    after one observation and ``after`` before the next."""
    width = before + after
    with np.errstate(invalid="ignore", divide="ignore"):
        noise = np.where(width > 0, 1 + (before**2 + after**2) / width**2, 2.0)
        walk = np.where(width > 0, before * after / width, 0.0) / spacing
    return noise, walk


def _neighbours(times: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query's distance [Q] from the observation at or before it and to the one after."""
    right = np.clip(np.searchsorted(times, query, side="right"), 1, len(times) - 1)
    left = right - 1
    return query - times[left], times[right] - query


def _spacing(times: np.ndarray) -> float:
    """The median spacing of ``times`` (1 where it is 0: repeated times)."""
    spacing = float(np.median(np.diff(times))) if len(times) >= 2 else 0.0
    return spacing if spacing > 0 else 1.0
