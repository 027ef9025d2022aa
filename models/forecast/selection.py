"""The one conservative rule that picks the candidate a forecast serves.

At every backtest origin each candidate has an MSE; the candidate with the least mean log MSE
over the origins is the best. Served is the simplest candidate whose per-origin errors are not
significantly worse than the best's: a one-sided paired t-test on the per-origin differences of
log MSE (Diebold & Mariano 1995's test, on origins rather than single errors), at
``policy.significance``, among the candidates that err less than every simpler one. So a more
complex candidate replaces a simpler one only when it wins across origins, not on one lucky
stretch: a random walk keeps the last value. At leads past the backtest horizon the choice at
nearer leads (the incumbent) comes first in line, so a forecast changes its method from one
lead to the next only on evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .backtest import Backtest
from .candidates import SIMPLEST
from .policy import Policy

# log MSE is taken of at least this share of the origin's squared scale: an exact forecast
# (a constant series) gives a finite log.
LOG_FLOOR = 1e-12


@dataclass(frozen=True)
class Choice:
    """What the rule chose and why.

    Attributes:
        served: the label of the variant that serves.
        best: the variant with the least mean log MSE over the origins.
        ratios: variant -> its geometric-mean MSE ratio to the served one over the origins.
        p_value: the paired test's p-value that the served candidate is worse than the best
            (1.0 when it is the best).
        origins: how many origins the choice rests on.
        reason: one line for the model's record.
    """

    served: str
    best: str
    ratios: dict[str, float]
    p_value: float
    origins: int
    reason: str


def choose(
    backtest: Backtest, policy: Policy, overlap: int | None = None, incumbent: str | None = None
) -> Choice:
    """The served candidate of ``backtest`` under ``policy``'s rule; ``overlap``: how many
    consecutive origins' targets overlap (``policy.origin_steps`` by default). An
    ``incumbent`` (the choice at nearer leads) stays unless it is significantly worse than the
    best: it is first in line, before the simplest."""
    names = backtest.candidates()
    if len(backtest.origins) < policy.min_origins or not names:
        why = f"{len(backtest.origins)} backtest origins, fewer than {policy.min_origins}"
        return Choice(SIMPLEST, SIMPLEST, {}, 1.0, len(backtest.origins), why + ": the simplest")
    log_mse = {n: np.array([_log_mse(o.mse(n), o.scale) for o in backtest.origins]) for n in names}
    series = np.array([o.series for o in backtest.origins])
    complexity = {n: backtest.variants[n].complexity for n in names}
    best = min(names, key=lambda n: (float(log_mse[n].mean()), complexity[n]))
    in_line = _front(names, log_mse, complexity)
    if incumbent in names:
        in_line = [incumbent, *in_line]
    for name in in_line:
        differences = log_mse[name] - log_mse[best] - math.log(policy.material_ratio)
        lags = policy.origin_steps if overlap is None else overlap
        p = 1.0 if name == best else paired_p_value(differences, lags, series)
        if p >= policy.significance:
            break
    ratios = {n: float(np.exp(np.mean(log_mse[n] - log_mse[name]))) for n in names}
    if name == best:
        reason = f"{name} had the least error over {len(backtest.origins)} backtest origins"
    elif name == incumbent:
        reason = (
            f"{name}, served at nearer leads, was not significantly worse than {best} "
            f"({ratios[best]:.3g}x its error) over {len(backtest.origins)} backtest origins "
            f"(p = {p:.2g})"
        )
    else:
        reason = (
            f"{name}, simpler than {best} ({ratios[best]:.3g}x its error), was not significantly "
            f"worse over {len(backtest.origins)} backtest origins (p = {p:.2g})"
        )
    return Choice(name, best, ratios, p, len(backtest.origins), reason)


def _front(
    names: list[str], log_mse: dict[str, np.ndarray], complexity: dict[str, int]
) -> list[str]:
    """``names``, simplest first, less each that errs no less than a simpler one: a more
    complex candidate that does worse than a simpler one never serves, however noisy the
    simpler one's comparison with the best."""
    front: list[str] = []
    lowest = math.inf
    for name in sorted(names, key=lambda n: (complexity[n], float(log_mse[n].mean()))):
        if float(log_mse[name].mean()) < lowest:
            front.append(name)
            lowest = float(log_mse[name].mean())
    return front


def _log_mse(mse: float, scale: float) -> float:
    return math.log(max(mse, LOG_FLOOR * scale**2))


def paired_p_value(
    differences: np.ndarray, overlap: int = 1, series: np.ndarray | None = None
) -> float:
    """The one-sided p-value that the mean of ``differences`` [K] exceeds 0; 1.0 when they do
    not vary and are not positive.

    With ``overlap`` 1 the differences are independent: Student's t with K - 1 degrees of
    freedom. With ``overlap`` m > 1, consecutive differences of one series (``series`` [K], its
    label per difference, consecutive ones adjacent) come from windows that overlap m - 1 in m:
    the mean's variance sums their autocovariances over m - 1 lags within a series (Diebold &
    Mariano 1995's, for forecasts h steps ahead; Newey & West 1987's Bartlett weights where that
    sum is not positive), and the t has as many degrees of freedom as the differences hold
    non-overlapping windows, less one: each series' own count of them (a family of short curves
    has an origin or two in each), different series' windows taken as independent, as the
    variance takes them (series that share a calendar can move together, which neither sees).
    """
    k = len(differences)
    mean = float(np.mean(differences))
    if k < 2:
        return 1.0
    centred = differences - mean
    labels = np.zeros(k) if series is None else np.asarray(series)
    covariances = [float(centred @ centred) / (k - 1)]
    for lag in range(1, min(overlap, k)):
        same = labels[lag:] == labels[:-lag]
        covariances.append(2 * float(np.sum(centred[lag:] * centred[:-lag] * same)) / (k - 1))
    variance = sum(covariances)
    if not variance > 0:  # the truncated sum can fall below 0: Bartlett's weights cannot
        variance = sum(c * (1 - lag / overlap) for lag, c in enumerate(covariances))
    if not variance > 1e-300:
        return 0.0 if mean > 0 else 1.0
    _, per_series = np.unique(labels.astype(str), return_counts=True)
    windows = sum(math.ceil(int(n) / overlap) for n in per_series)
    return student_t_sf(mean / math.sqrt(variance / k), max(1, windows - 1))


def student_t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with ``df`` (a positive integer) degrees of freedom, in closed
    form (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 1:
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for j in range(1, (df - 1) // 2):
            term *= 2 * j / (2 * j + 1) * c2
            total += term
        cdf = 0.5 + (theta + s * math.cos(theta) * total) / math.pi
    else:
        term, total = 1.0, 1.0
        for j in range(1, df // 2):
            term *= (2 * j - 1) / (2 * j) * c2
            total += term
        cdf = 0.5 + 0.5 * s * total
    return min(1.0, max(0.0, 1.0 - cdf))
