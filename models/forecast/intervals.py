"""Forecast intervals calibrated on the served candidate's backtest errors, per lead time.

The backtest residuals, each divided by its origin's scale (``backtest.step_scale``), are pooled
into ``policy.interval_leads`` bins of lead time; the variance as a function of lead is the line
``a + b * lead`` (both at least 0, leads in horizons) fitted to the bins' mean squared scaled
residuals, weighted by their counts. A forecast at lead ``l`` after a context of scale ``s`` then
has variance ``s^2 (a + b l)``, beyond the backtest horizon too (the line continued).

Its quantiles are the residuals' own (``ResidualQuantiles``): each residual divided by the
standard deviation the line gives its lead, the size of those standardised residuals that
``COVERAGES`` of them stay within. Forecast errors have heavier tails than a Gaussian's, so a
Gaussian interval fitted to their variance is too wide at 80% and too narrow at 95%. With fewer
than ``policy.quantile_residuals`` residuals the quantiles are Gaussian.

Only origins fitted on ``SCALE_POINTS`` observations or more calibrate (``calibrating``): a scale
from a single change can be near 0, and errors divided by it would set every interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from .backtest import Backtest
from .policy import Policy

COVERAGES = (0.5, 0.8, 0.9, 0.95)  # the central shares whose standardised sizes are kept
SCALE_POINTS = 3  # an origin fitted on fewer observations has no step scale to calibrate with
LEVEL_CLIP = 1e-12  # quantile levels 0 and 1 are answered at this distance from them


@dataclass(frozen=True)
class LeadVariance:
    """The scaled forecast variance ``a + b * lead`` (lead in backtest horizons).

    Attributes:
        intercept, slope: a and b, in squared step scales.
        horizon: the backtest horizon in time units (what a lead of 1 is).
    """

    intercept: float
    slope: float
    horizon: float

    def __call__(self, lead_times: np.ndarray, scale: float) -> np.ndarray:
        """The variance [Q] at ``lead_times`` [Q] (time units after the context's end)."""
        leads = np.maximum(np.asarray(lead_times, dtype=np.float64), 0.0) / self.horizon
        return scale**2 * (self.intercept + self.slope * leads)


def calibrating(backtest: Backtest) -> Backtest:
    """``backtest``'s origins fitted on at least ``SCALE_POINTS`` observations."""
    return replace(backtest, origins=tuple(o for o in backtest.origins if o.fitted >= SCALE_POINTS))


def fit_lead_variance(backtest: Backtest, served: str, policy: Policy) -> LeadVariance:
    """The served candidate's scaled squared errors against lead time, as a line."""
    leads = np.concatenate([o.leads for o in backtest.origins]) / backtest.horizon
    scaled = np.concatenate(
        [((o.forecasts[served] - o.truth) / o.scale) ** 2 for o in backtest.origins]
    )
    edges = np.quantile(leads, np.linspace(0, 1, policy.interval_leads + 1))
    bins = np.clip(np.searchsorted(edges, leads, side="right") - 1, 0, policy.interval_leads - 1)
    counts = np.bincount(bins, minlength=policy.interval_leads).astype(np.float64)
    used = counts > 0
    centres = np.bincount(bins, leads, policy.interval_leads)[used] / counts[used]
    means = np.bincount(bins, scaled, policy.interval_leads)[used] / counts[used]
    weights = counts[used]
    if used.sum() >= 2 and np.ptp(centres) > 0:
        design = np.column_stack([np.ones(len(centres)), centres]) * np.sqrt(weights)[:, None]
        (a, b), *_ = np.linalg.lstsq(design, means * np.sqrt(weights), rcond=None)
    else:
        a, b = float(np.average(means, weights=weights)), 0.0
    if b < 0:  # a variance that shrinks with the lead is noise: a flat line instead
        a, b = float(np.average(means, weights=weights)), 0.0
    if a < 0:  # through the origin, still matching the pooled variance
        a, b = 0.0, float(np.sum(weights * means * centres) / np.sum(weights * centres**2))
    return LeadVariance(float(a), float(b), backtest.horizon)


def _normal_size(coverage: float) -> float:
    """The size a standard normal stays within with probability ``coverage``."""
    return NormalDist().inv_cdf(min(0.5 + coverage / 2, 1 - LEVEL_CLIP))


GAUSSIAN_SIZES = tuple(_normal_size(c) for c in COVERAGES)


@dataclass(frozen=True)
class ResidualQuantiles:
    """The standardised forecast error's quantiles, symmetric about 0.

    Attributes:
        sizes: per ``COVERAGES`` entry, the size that share of the standardised residuals stay
            within (increasing); the standard normal's (``GAUSSIAN_SIZES``) without evidence.
    """

    sizes: tuple[float, ...] = GAUSSIAN_SIZES

    def __call__(self, levels: np.ndarray) -> np.ndarray:
        """The quantiles [L] at ``levels`` [L] in [0, 1]: between the kept coverages the sizes
        are interpolated, outside them scaled as the normal's from the nearest one."""
        levels = np.clip(np.asarray(levels, dtype=np.float64), LEVEL_CLIP, 1 - LEVEL_CLIP)
        out = np.empty(len(levels))
        for i, level in enumerate(levels):
            coverage = abs(2 * level - 1)
            if COVERAGES[0] <= coverage <= COVERAGES[-1]:
                size = float(np.interp(coverage, COVERAGES, self.sizes))
            else:
                edge = 0 if coverage < COVERAGES[0] else -1
                size = self.sizes[edge] * _normal_size(coverage) / GAUSSIAN_SIZES[edge]
            out[i] = math.copysign(size, level - 0.5) if level != 0.5 else 0.0
        return out


GAUSSIAN = ResidualQuantiles()  # a standard normal's: no evidence


def fit_residual_quantiles(
    backtest: Backtest, served: str, variance: LeadVariance, policy: Policy
) -> ResidualQuantiles:
    """The served candidate's backtest residuals, standardised by ``variance``, as quantiles
    (Gaussian ones from fewer than ``policy.quantile_residuals`` residuals)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # exact backtests: no shape to see
        sizes = [
            np.abs(o.forecasts[served] - o.truth) / np.sqrt(variance(o.leads, o.scale))
            for o in backtest.origins
        ]
    standardised = np.concatenate(sizes) if sizes else np.empty(0)
    standardised = standardised[np.isfinite(standardised)]
    if len(standardised) < policy.quantile_residuals:
        return GAUSSIAN
    found = np.quantile(standardised, COVERAGES)
    return ResidualQuantiles(tuple(float(q) for q in np.maximum.accumulate(found)))
