"""What training never sees: held-out series or points, for early stopping and the skill figures.

A family of short series holds out whole series (``val_fraction`` of them): the model is judged on
series it never read, filling gaps in each (a sparse case, 20% of it observed, and dense ones,
each hiding one of ``GAP_FOLDS`` folds of its inner points: what a user asks of a stored series)
and extrapolating its second half from its first.
One or a few series (or windowed, long ones) hold out points instead: the tail of every series
(what extrapolation would be asked next) and a share of the points before it (what interpolation
would fill in). Either way the figures are computed on points no gradient came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..series import Dataset, Series
from .normaliser import Normaliser
from .tasks import count
from .windows import EXTRAPOLATION_CONTEXT

# Holding out whole series: 20% of each observed for interpolation, the first half for
# extrapolation (what the quality benchmark measures on short families).
SERIES_INTERPOLATION_OBSERVED = 0.2
SERIES_EXTRAPOLATION_OBSERVED = 0.5
# Dense gaps in a held-out whole series: its inner points fall into this many folds at random
# (one per inner point when fewer), each hidden from the rest in turn (each predicted once).
GAP_FOLDS = 3
# Holding out points: the tail (at most this share of a series' span, at most the horizon a
# window is trained to extrapolate) and this share of the points before it.
TAIL_SHARE = 0.2
INTERIOR_SHARE = 0.1
# A series with fewer points is not split (it trains whole and is not scored).
MIN_SPLIT_POINTS = 10
# In-sample forecasts (`in_sample_forecasts`): origins per series (at least 2, at most
# IN_SAMPLE_CASES in all), spread after IN_SAMPLE_START of it.
IN_SAMPLE_ORIGINS = 12
IN_SAMPLE_CASES = 48
IN_SAMPLE_START = 0.25


@dataclass(frozen=True)
class HeldOut:
    """Raw observations to predict from a context.

    Attributes:
        context: the observations the model may read (raw).
        times: [T] the held-out times; values: [T, D] their raw values (NaN where missing).
    """

    context: Series
    times: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Holdout:
    """The training series and the held-out interpolation and extrapolation cases.

    Attributes:
        train: what training reads.
        interpolation, extrapolation: the held-out cases (empty when nothing could be held out).
        by_series: True when whole series are held out, False when points of each are.
        in_sample: True when nothing was held out (``val_fraction`` 0): the cases are cut from
            the training series themselves.
        gaps: dense gaps cut from the held-out whole series (``GAP_FOLDS`` per series): scored
            with ``interpolation``, though early stopping reads only the sparse reads and the
            tails, the tasks the model trains on.
        training_gaps: dense gaps cut from the training series when whole series are held out
            (``GAP_FOLDS`` per series): training read their points, so they judge only the
            answers that do not use the model (linear interpolation, the monotone cubic, the
            kriged answer), which a family's few held-out series cannot tell apart alone.
    """

    train: list[Series]
    interpolation: list[HeldOut]
    extrapolation: list[HeldOut]
    by_series: bool
    in_sample: bool = False
    gaps: list[HeldOut] = field(default_factory=list)
    training_gaps: list[HeldOut] = field(default_factory=list)


def make_holdout(
    dataset: Dataset, normaliser: Normaliser, val_fraction: float, seed: int
) -> Holdout:
    """Split ``dataset`` as the module docstring says; deterministic under ``seed``."""
    rng = np.random.default_rng([seed, 2**31 - 1])
    # the gaps draw from a stream of their own: the other cases do not depend on them
    gap_rng = np.random.default_rng([seed, 2**31 - 3])
    series = list(dataset.series)
    if val_fraction == 0:
        return _series_cases(series, series, rng, gap_rng, in_sample=True)
    n_val = round(len(series) * val_fraction)
    if not normaliser.windowed and len(series) >= 2 and n_val > 0:
        order = np.random.default_rng([seed, 2**31 - 2]).permutation(len(series))
        val = [series[i] for i in order[:n_val]]
        return _series_cases([series[i] for i in order[n_val:]], val, rng, gap_rng, in_sample=False)
    horizon = _horizon(normaliser)
    return _point_cases(series, horizon, rng)


def _series_cases(
    train: list[Series],
    val: list[Series],
    rng: np.random.Generator,
    gap_rng: np.random.Generator,
    *,
    in_sample: bool,
) -> Holdout:
    interpolation, extrapolation, val_gaps = [], [], []
    for s in val:
        n = len(s)
        if n < 2:
            continue
        size = count(n, SERIES_INTERPOLATION_OBSERVED)
        observed = np.sort(rng.choice(n, size=size, replace=False))
        interpolation.append(_case(s, observed, np.setdiff1d(np.arange(n), observed)))
        val_gaps += _gap_cases(s, gap_rng)
        prefix = np.arange(count(n, SERIES_EXTRAPOLATION_OBSERVED))
        extrapolation.append(_case(s, prefix, np.arange(len(prefix), n)))
    gaps = [] if in_sample else [case for s in train for case in _gap_cases(s, gap_rng)]
    return Holdout(train, interpolation, extrapolation, True, in_sample, val_gaps, gaps)


def _gap_cases(series: Series, rng: np.random.Generator) -> list[HeldOut]:
    """Cases of ``series``, each hiding one fold of its inner points: ``GAP_FOLDS`` folds, or one
    per inner point when it has fewer (none without inner points)."""
    inner = rng.permutation(np.arange(1, len(series) - 1))
    if not len(inner):
        return []
    everything = np.arange(len(series))
    return [
        _case(series, np.setdiff1d(everything, fold), np.sort(fold))
        for fold in np.array_split(inner, min(GAP_FOLDS, len(inner)))
    ]


def _horizon(normaliser: Normaliser) -> float | None:
    """The longest tail to hold out: what a window is trained to extrapolate, if windowed."""
    if normaliser.window is None:
        return None
    return (1 - EXTRAPOLATION_CONTEXT) * normaliser.window


def _point_cases(series: list[Series], horizon: float | None, rng: np.random.Generator) -> Holdout:
    train, interpolation, extrapolation = [], [], []
    for s in series:
        if len(s) < MIN_SPLIT_POINTS:
            train.append(s)
            continue
        span = float(s.times[-1] - s.times[0])
        tail = TAIL_SHARE * span if horizon is None else min(TAIL_SHARE * span, horizon)
        before = np.flatnonzero(s.times <= s.times[-1] - tail)
        before = before if len(before) >= MIN_SPLIT_POINTS - 1 else np.arange(len(s) - 1)
        hidden = np.sort(rng.choice(before[1:-1], size=_interior_count(len(before)), replace=False))
        kept = np.setdiff1d(before, hidden)
        train.append(_rows(s, kept))
        interpolation.append(_case(s, kept, hidden))
        extrapolation.append(_case(s, kept, np.arange(before[-1] + 1, len(s))))
    return Holdout(train, interpolation, extrapolation, by_series=False)


def _interior_count(n: int) -> int:
    return max(1, min(n - 2, round(INTERIOR_SHARE * n)))


def _rows(series: Series, rows: np.ndarray) -> Series:
    return Series(series.id, series.times[rows], series.values[rows])


def _case(series: Series, context: np.ndarray, targets: np.ndarray) -> HeldOut:
    return HeldOut(_rows(series, context), series.times[targets], series.values[targets])


def in_sample_forecasts(holdout: Holdout) -> list[HeldOut]:
    """Forecasts from ``IN_SAMPLE_ORIGINS`` origins spread over each training series (after its
    first ``IN_SAMPLE_START``), each over the held-out tails' horizon: cases whose targets
    training has seen, so they are never scored, but many of them, where the held-out tail is
    one short stretch (where a season drifts, their errors can be many times the tail's).
    Empty when whole series are held out (those are many already)."""
    if holdout.by_series or not holdout.extrapolation:
        return []
    horizon = max(
        (float(c.times[-1] - c.context.times[-1]) for c in holdout.extrapolation if len(c.times)),
        default=0.0,
    )
    if horizon <= 0:
        return []
    cases = []
    long_enough = [s for s in holdout.train if len(s) >= MIN_SPLIT_POINTS]
    per_series = max(2, min(IN_SAMPLE_ORIGINS, IN_SAMPLE_CASES // max(1, len(long_enough))))
    for s in long_enough:
        first, last = float(s.times[0]), float(s.times[-1])
        origins = np.linspace(first + IN_SAMPLE_START * (last - first), last - horizon, per_series)
        for origin in origins[origins > first]:
            past = np.flatnonzero(s.times <= origin)
            last_seen = s.times[past[-1]]  # horizons count from it, as the tail's do
            ahead = np.flatnonzero((s.times > last_seen) & (s.times <= last_seen + horizon))
            if len(past) >= MIN_SPLIT_POINTS and len(ahead):
                cases.append(_case(s, past, ahead))
    return cases
