"""Forecast intervals calibrated on the served candidate's backtest errors, per lead time.

The backtest residuals, each divided by its origin's scale (``backtest.step_scale``), are pooled
into ``policy.interval_leads`` bins of lead time; the variance as a function of lead is the line
``a + b * lead`` (both at least 0, leads in horizons) fitted to the bins' mean squared scaled
residuals, weighted by their counts. A forecast at lead ``l`` after a context of scale ``s`` then
has variance ``s^2 (a + b l)``, beyond the backtest horizon too (the line continued), and
Gaussian quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backtest import Backtest
from .policy import Policy


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
