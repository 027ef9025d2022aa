"""Where the development corpus (``bench/corpus.py``) cuts its data into what a method sees and
what it must answer.

**A single series** is scored at ``ORIGINS`` forecast origins rolling over its last horizons: the
k-th origin (k = 1 the latest) cuts the grid at position ``c_k = last + 1 - k * H``; every row
before ``c_k`` may be read, the rows at positions ``c_k .. c_k + H - 1`` are forecast. The
horizon H is one season when the series has one, else ``DEFAULT_HORIZON`` for its frequency (the
M4 competition's horizons), and never more than an eighth of the series, so the earliest origin
still leaves most of it to learn from. Before each origin, ``HIDDEN_FRACTION`` of the rows in the
last ``interpolation_window`` grid positions are hidden at random (the same ones for every
method and training seed) and answered as interpolation; the row just before the origin is never
hidden, so every method forecasts from the same last observation.

**A population of short curves** is one fit: ``HIDDEN_FRACTION`` of each curve's inner rows
(never its first or last) are hidden for interpolation, and on ``TAIL_CURVES_FRACTION`` of the
curves (those with enough rows) the last ``TAIL_ROWS`` rows are hidden for extrapolation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from corpus_data import Frequency, Population, SingleSeries

ORIGINS = 3  # forecast origins per single series
HIDDEN_FRACTION = 0.3  # of the rows in the interpolation window (or a curve's inner rows)
INTERPOLATION_SEASONS = 4  # the interpolation window spans this many seasons ...
INTERPOLATION_MIN_STEPS = 100  # ... and at least this many grid steps
MAX_HORIZON_SHARE = 1 / 8  # a horizon is at most this share of the series' grid
TAIL_CURVES_FRACTION = 1 / 3  # of a population's curves have their tail hidden
TAIL_ROWS = 3  # rows hidden at the end of such a curve
MIN_TAIL_CURVE_ROWS = 6  # a curve needs this many rows to have its tail hidden
SPLIT_SEED = 20261206  # mixed with each item's name: which rows are hidden

# The forecast horizon, in grid steps, of a series without a season (M4's horizons).
DEFAULT_HORIZON: dict[Frequency, int] = {
    Frequency.HALF_HOURLY: 48,
    Frequency.HOURLY: 48,
    Frequency.DAILY: 14,
    Frequency.WEEKLY: 13,
    Frequency.MONTHLY: 18,
    Frequency.QUARTERLY: 8,
    Frequency.YEARLY: 6,
    Frequency.OTHER: 10,
}


@dataclass(frozen=True)
class Origin:
    """One forecast origin of a single series.

    Attributes:
        k: 1 for the latest origin, ``ORIGINS`` for the earliest.
        train: bool [T], the rows a method may read.
        hidden: int [Qi], the rows answered as interpolation (before the origin).
        ahead: int [Qf], the rows answered as forecasts (the horizon after the origin).
    """

    k: int
    train: np.ndarray
    hidden: np.ndarray
    ahead: np.ndarray


@dataclass(frozen=True)
class CurveSplit:
    """One curve of a population: the rows read, the inner rows hidden, the tail hidden.

    Attributes:
        train: bool [T]; hidden: int [Qi] inner rows; tail: int [Qt] last rows (may be empty).
    """

    train: np.ndarray
    hidden: np.ndarray
    tail: np.ndarray


def horizon(series: SingleSeries) -> int:
    """Grid steps forecast from each origin."""
    steps = series.season or DEFAULT_HORIZON[series.frequency]
    return max(1, min(steps, int(series.index[-1] * MAX_HORIZON_SHARE)))


def interpolation_window(series: SingleSeries) -> int:
    """Grid steps before an origin in which rows are hidden."""
    return max(INTERPOLATION_SEASONS * (series.season or 0), INTERPOLATION_MIN_STEPS)


def origins(series: SingleSeries) -> tuple[Origin, ...]:
    """The ``ORIGINS`` origins of ``series``, the earliest first."""
    h, window = horizon(series), interpolation_window(series)
    end = int(series.index[-1]) + 1
    rng = _rng(series.name)
    found = []
    for k in range(ORIGINS, 0, -1):
        cut = end - k * h
        before = np.flatnonzero(series.index < cut)
        ahead = np.flatnonzero((series.index >= cut) & (series.index < cut + h))
        candidates = before[series.index[before] >= cut - window][:-1]
        hidden = np.sort(rng.choice(candidates, int(HIDDEN_FRACTION * len(candidates)), False))
        train = np.zeros(len(series.index), dtype=bool)
        train[before] = True
        train[hidden] = False
        found.append(Origin(k, train, hidden, ahead))
    return tuple(found)


def curve_splits(population: Population) -> tuple[CurveSplit, ...]:
    """One split per curve of ``population``, in its order."""
    rng = _rng(population.name)
    n = len(population.curves)
    long_enough = [
        i for i, c in enumerate(population.curves) if len(c.times) >= MIN_TAIL_CURVE_ROWS
    ]
    tails = set(rng.permutation(long_enough)[: round(TAIL_CURVES_FRACTION * n)].tolist())
    splits = []
    for i, curve in enumerate(population.curves):
        rows = len(curve.times)
        tail = np.arange(rows - TAIL_ROWS, rows) if i in tails else np.arange(0)
        inner = np.arange(1, rows - len(tail) - 1)
        hidden = np.sort(rng.choice(inner, round(HIDDEN_FRACTION * len(inner)), False))
        train = np.ones(rows, dtype=bool)
        train[hidden] = False
        train[tail] = False
        splits.append(CurveSplit(train, hidden.astype(np.int64), tail.astype(np.int64)))
    return tuple(splits)


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SPLIT_SEED, zlib.crc32(name.encode())])
