"""Windows: how a long series becomes many training examples and many prediction contexts.

A latent ODE reads a context into one z0 and integrates from it; across a whole long series that
is one training example and an integration over decades. So long series are cut into windows of
one length (in the data's time units): training draws windows at random offsets every epoch, and
a prediction reads the window around a requested time (interpolation) or the last part of a
window before it (extrapolation). A data set whose series are all short is not windowed at all:
each series is one window.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..seasons import find_recent_season, find_season, latest_period
from ..series import Dataset, Series, TimeKind

# A data set is windowed when one of its series has more observations than this,
LONG_SERIES_POINTS = 200
# or when it holds at most FEW_SERIES series and its longest spans MEDIUM_WINDOWS windows of
# about WINDOW_SEASONS seasons (each at least MEDIUM_WINDOW_POINTS typical spacings): a few
# monthly series over a decade are a few training examples unwindowed.
FEW_SERIES = 8
MEDIUM_WINDOWS = 3.0
MEDIUM_WINDOW_POINTS = 24
# Observations a window holds by default (from the typical spacing) without a season.
WINDOW_POINTS = 100
# With a season: this many seasons a window, kept between the bounds below (in observations).
WINDOW_SEASONS = 2.5
MIN_WINDOW_POINTS, MAX_WINDOW_POINTS = 48, 200
# Training windows per epoch: this many per window length of a series' span.
WINDOWS_PER_SPAN = 2
# A training window (a gap can empty one) needs this many observations.
MIN_OBSERVATIONS = 8
# Extrapolation reads the last EXTRAPOLATION_CONTEXT of a window before the first time asked.
EXTRAPOLATION_CONTEXT = 0.6


@dataclass(frozen=True)
class WindowPlan:
    """How a data set is windowed, chosen once from the training data.

    Attributes:
        length: a window's span in the data's time units (seconds for datetime data), or None
            when no series is long: every series is then one window.
        season: the season found in the data (same units), or None; the period of its latest
            cycles, at the series' end, when it has drifted or holds in the latest part only
            (``models.seasons.latest_period``).
        steady: a season was found over the whole longest series, not only in its latest part
            (``models.seasons.find_recent_season``): only a steady one carries a fitted base. A
            steady season that has drifted keeps its base at the latest period: without it the
            forecast is worse on average, though not on every fit
            (bench/experiments/long-series/README.md, section 5).
        drifted: the season's latest cycles have another period, which ``season`` is.
    """

    length: float | None
    season: float | None
    steady: bool = True
    drifted: bool = False


def plan_windows(dataset: Dataset, override: float | None = None) -> WindowPlan:
    """The window length for ``dataset``: ``override`` if given, else from the data: about
    ``WINDOW_SEASONS`` seasons when the longest series has one, else ``WINDOW_POINTS`` typical
    spacings. Series spanning less than a window and a half stay whole.

    A data set of short series (at most ``LONG_SERIES_POINTS`` observations) is windowed only
    when it is a few series with a season its longest repeats often (``_medium_length``)."""
    longest = max(dataset.series, key=len)
    season = find_season(longest, dataset.time_kind)
    steady = season is not None
    if season is None:
        season = find_recent_season(longest, dataset.time_kind)
    latest = (
        None if season is None else latest_period(longest, dataset.time_kind, season, steady=steady)
    )
    drifted = latest != season
    season = latest
    if override is not None:
        length: float | None = override
    elif len(longest) <= LONG_SERIES_POINTS:
        length = _medium_length(dataset, longest, season)
    else:
        length = _length_from_data(longest, season)
    if length is not None and not any(_span(s) > 1.5 * length for s in dataset.series):
        length = None
    return WindowPlan(length, season, steady, drifted)


def _length_from_data(series: Series, season: float | None) -> float:
    spacing = _spacing(series)
    if season is None:
        return WINDOW_POINTS * spacing
    points = np.clip(WINDOW_SEASONS * season / spacing, MIN_WINDOW_POINTS, MAX_WINDOW_POINTS)
    return float(points * spacing)


def _medium_length(dataset: Dataset, longest: Series, season: float | None) -> float | None:
    """The window of a few short seasonal series, or None (unwindowed).

    ``WINDOW_SEASONS`` seasons, at least ``MEDIUM_WINDOW_POINTS`` typical spacings, when the data
    set holds at most ``FEW_SERIES`` series and its longest spans ``MEDIUM_WINDOWS`` such
    windows. Unwindowed, a decade of monthly values is one training example and gets no seasonal
    base, and its forecast can lose to the seasonal naive method's; windowed, it learns from many
    examples over its own base (bench/experiments/long-series/README.md, section 1)."""
    if season is None or len(dataset) > FEW_SERIES:
        return None
    spacing = _spacing(longest)
    length = max(WINDOW_SEASONS * season, MEDIUM_WINDOW_POINTS * spacing)
    return length if _span(longest) >= MEDIUM_WINDOWS * length else None


def _spacing(series: Series) -> float:
    """The typical spacing of ``series``: the median gap between its observations."""
    return float(np.median(np.diff(series.times)))


def _span(series: Series) -> float:
    return float(series.times[-1] - series.times[0])


def training_windows(
    series: Series, length: float | None, rng: np.random.Generator
) -> list[Series]:
    """This epoch's windows of ``series``: the whole series when it spans no more than a window
    and a half, else ``WINDOWS_PER_SPAN`` per window length at uniform random offsets (those a
    gap leaves with fewer than ``MIN_OBSERVATIONS`` observations are dropped)."""
    if length is None or _span(series) <= 1.5 * length:
        return [series]
    count = max(1, round(WINDOWS_PER_SPAN * _span(series) / length))
    starts = rng.uniform(series.times[0], series.times[-1] - length, size=count)
    windows = [_between(series, start, start + length) for start in starts]
    kept = [w for w in windows if len(w) >= MIN_OBSERVATIONS]
    return kept or [_between(series, series.times[0], series.times[0] + length)]


def _between(series: Series, start: float, stop: float) -> Series:
    """The observations of ``series`` in [start, stop]."""
    rows = (series.times >= start) & (series.times <= stop)
    return Series(series.id, series.times[rows], series.values[rows])


@dataclass(frozen=True)
class Group:
    """Requested times answered from one context.

    Attributes:
        context: the observations the encoder reads.
        positions: indices into the requested times that this context answers.
    """

    context: Series
    positions: np.ndarray


def prediction_groups(series: Series, times: np.ndarray, length: float | None) -> list[Group]:
    """Which observations of ``series`` answer each of ``times`` [T].

    Unwindowed: the whole series answers everything. Windowed: times inside the series are
    answered by the window around them (windows start on a grid of a quarter window, so nearby
    times share one); times after the last observation by the last ``EXTRAPOLATION_CONTEXT`` of
    a window, times before the first by the first.
    """
    everything = np.arange(len(times))
    if length is None or _span(series) <= 1.5 * length:
        return [Group(series, everything)]
    first, last = float(series.times[0]), float(series.times[-1])
    groups = []
    after, before = times > last, times < first
    if after.any():
        context = _at_least(series, last - EXTRAPOLATION_CONTEXT * length, last)
        groups.append(Group(context, everything[after]))
    if before.any():
        context = _at_least(series, first, first + EXTRAPOLATION_CONTEXT * length)
        groups.append(Group(context, everything[before]))
    inside = everything[~(after | before)]
    quarter = length / 4
    starts = np.round((times[inside] - length / 2 - first) / quarter) * quarter + first
    starts = np.clip(starts, first, last - length)
    for start in np.unique(starts):
        groups.append(Group(_at_least(series, start, start + length), inside[starts == start]))
    return groups


def _at_least(series: Series, start: float, stop: float) -> Series:
    """The observations in [start, stop], widened on both sides to ``MIN_OBSERVATIONS`` when a
    gap leaves fewer: a time in a gap is answered from the observations around the gap."""
    low, high = np.searchsorted(series.times, [start, stop], side="left")
    high = high + int(high < len(series) and series.times[high] == stop)
    missing = MIN_OBSERVATIONS - (high - low)
    if missing > 0:
        low, high = max(0, low - missing), min(len(series), high + missing)
    return Series(series.id, series.times[low:high], series.values[low:high])


def duration_seconds(text: str) -> float:
    """An ISO-8601 duration (``P2Y``, ``P10W``, ``P3DT12H``, ``PT90M``) in seconds; years and
    months are taken as 365.25 and 30.4375 days."""
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groups()):
        raise ValueError(
            f"{text!r} is not an ISO-8601 duration such as P2Y, P10W, P3DT12H or PT90M"
        )
    amounts = [float(g) if g else 0.0 for g in match.groups()]
    seconds = sum(a * unit for a, unit in zip(amounts, _DURATION_UNITS, strict=True))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


_DURATION = re.compile(
    r"P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)
_DAY = 86_400.0
_DURATION_UNITS = (365.25 * _DAY, 30.4375 * _DAY, 7 * _DAY, _DAY, 3_600.0, 60.0, 1.0)


def window_in_data_units(window: float | str, time_kind: TimeKind) -> float:
    """A ``model.window`` setting as a length in the data's time units (seconds for datetime
    data): a positive finite number as is, an ISO-8601 duration for datetime data only."""
    if isinstance(window, str):
        if time_kind is not TimeKind.DATETIME:
            raise ValueError(
                "an ISO-8601 duration window needs datetime times; give a number in the "
                "data's time units"
            )
        length = duration_seconds(window)
    else:
        try:
            length = float(window)
        except OverflowError:
            length = math.inf
        if not length > 0:
            raise ValueError(f"window must be positive, got {window}")
    if not math.isfinite(length):
        raise ValueError(f"window {window!r} is too long to be a length; leave it out for none")
    return length


def check_window(length: float, dataset: Dataset) -> None:
    """A ValueError unless a window of ``length`` holds ``MIN_OBSERVATIONS`` typical spacings
    of ``dataset`` (its longest series'): shorter ones hold too few observations to learn from,
    and their number per epoch (``WINDOWS_PER_SPAN`` per length of a series' span) grows
    without bound as the length shrinks."""
    longest = max(dataset.series, key=len)
    if len(longest) < 2:
        return
    least = MIN_OBSERVATIONS * _spacing(longest)
    if length < least:
        raise ValueError(
            f"window {length:g} holds fewer than {MIN_OBSERVATIONS} typical spacings of the data "
            f"(its median spacing is {least / MIN_OBSERVATIONS:g}); give at least {least:g}, or "
            "leave it out to have it chosen from the data"
        )
