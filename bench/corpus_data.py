"""What the development corpus (``bench/corpus.py``) is made of: real single series on a known
grid, and populations of short irregular curves.

A single series keeps, beside its times, each point's position on the regular grid it was
recorded on (``index``): odecast reads the times as they are, while the methods that need a
regular grid (statsforecast, the seasonal naive method) read the grid positions and fill the
positions a dropped point left empty. Values are 1-D; populations may have several dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Frequency(StrEnum):
    """How often a single series was recorded (its grid step)."""

    HALF_HOURLY = "half-hourly"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    OTHER = "other"  # a grid that is none of the above (every 10 minutes, every 2 years, ...)


class Kind(StrEnum):
    """What a single series mostly shows (a series may show several)."""

    SEASONAL = "seasonal"
    TRENDING = "trending"
    RANDOM_WALK = "random_walk"
    INTERMITTENT = "intermittent"  # many exact zeros between bursts
    LEVEL_SHIFT = "level_shift"
    CYCLIC = "cyclic"  # cycles of varying length (not a fixed season)
    STATIONARY = "stationary"  # noise around a level


@dataclass(frozen=True)
class SingleSeries:
    """One real series.

    Attributes:
        name: ``<source>/<item>[:<column>]``, unique in the corpus.
        frequency: its grid step's kind.
        kinds: what it shows, from ``Kind``.
        times: float64 [T], increasing: POSIX seconds when ``datetime``, else plain numbers.
        index: int64 [T], increasing: each point's position on the regular grid (0 is the first
            point; a dropped point leaves its position out).
        values: float64 [T], all finite.
        datetime: whether ``times`` are POSIX seconds (else numeric times, such as years).
        season: the season in grid steps (12 for monthly data with a yearly season), or None.
        irregular: how the series was made irregular (empty when it is as recorded).
        quick: whether it belongs to the quick mode's fixed subset.
    """

    name: str
    frequency: Frequency
    kinds: tuple[Kind, ...]
    times: np.ndarray
    index: np.ndarray
    values: np.ndarray
    datetime: bool
    season: int | None
    irregular: str = ""
    quick: bool = False

    def __post_init__(self) -> None:
        t, i, v = self.times, self.index, self.values
        if not (t.ndim == i.ndim == v.ndim == 1 and len(t) == len(i) == len(v)):
            raise ValueError(f"{self.name}: times, index and values must be 1-D of one length")
        if not (np.all(np.diff(t) > 0) and np.all(np.diff(i) > 0) and i[0] == 0):
            raise ValueError(f"{self.name}: times and index must increase, index from 0")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{self.name}: values must be finite")


@dataclass(frozen=True)
class Curve:
    """One short curve of a population.

    Attributes:
        id: unique in its population, ``^[A-Za-z0-9_-]{1,64}$``.
        times: float64 [T], increasing.
        values: float64 [T, D], NaN where an entry is not observed (never a whole row).
    """

    id: str
    times: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Population:
    """A family of short irregular curves that share a shape.

    Attributes:
        name: ``<source>/<item>``, unique in the corpus.
        description: what the curves are, in a line (units, time unit).
        curves: the curves, one per subject.
        synthetic: whether it comes from ``models.synthetic`` rather than real data.
        quick: whether it belongs to the quick mode's fixed subset.
    """

    name: str
    description: str
    curves: tuple[Curve, ...]
    synthetic: bool = False
    quick: bool = False
