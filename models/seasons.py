"""A series' season, found from its observations: the period whose sine and cosine explain most of
what a straight line leaves, if they explain enough.

Irregular times rule out an FFT; a least-squares periodogram on a grid of periods works on any
times. Datetime data snap to the calendar (a year of 365.25 days, a week, a day) when the peak
lies near one, since "52 points" is not a year when points are irregular.
"""

from __future__ import annotations

import numpy as np

from .series import Series, TimeKind

DAY_S = 86_400.0
CALENDAR_PERIODS_S = (365.25 * DAY_S, 7 * DAY_S, DAY_S)
# The best period's sine and cosine must explain this share of the detrended variance.
MIN_EXPLAINED = 0.2
# A season must repeat at least this many times in the series to be found.
MIN_CYCLES = 2.5
# A season of the latest part only (its latest quarter, then half: the later, the nearer the
# period forecasts need) must repeat this many times there: a random walk's last stretch often
# looks like a few slow cycles.
RECENT_SHARES = (0.25, 0.5)
RECENT_MIN_CYCLES = 10.0
# The period of the latest LATEST_CYCLES cycles replaces the season when its sine and cosine
# explain significantly more of those cycles than the season's: the gain, over the variance they
# leave, above DRIFT_SIGNIFICANCE. The season has drifted, and a forecast repeats the latest
# cycles, not the average one (moved on to the series' end by the drift since the LATEST_CYCLES
# cycles before them). Under a steady season the gain is noise, the best of a few periods' 2-dof
# chi-square, well under the threshold; a drift of a few percent gains far more
# (bench/experiments/long-series/README.md, section 2).
LATEST_CYCLES = 5
DRIFT_SIGNIFICANCE = 20.0
# A latest period further than this factor from the season is another season, not a drift.
MAX_DRIFT = 1.3
# Periods tried: this many, log-spaced between 4 typical spacings and span / MIN_CYCLES.
GRID_SIZE = 400
# Periods tried around the best grid period to place its peak precisely.
REFINE_SIZE = 101
# Fewer observations than this say nothing about a season.
MIN_OBSERVED = 16
# A peak this close (relative) to a calendar period snaps to it.
CALENDAR_SNAP = 0.1


def find_season(series: Series, time_kind: TimeKind) -> float | None:
    """The dominant period of ``series`` (first dimension with enough observations), in its time
    units, or None when nothing periodic explains at least ``MIN_EXPLAINED`` of the detrended
    variance."""
    observed = _first_observed(series)
    return None if observed is None else _season_of(*observed, time_kind, MIN_CYCLES)


def find_recent_season(series: Series, time_kind: TimeKind) -> float | None:
    """A season that holds in the latest part of ``series`` only, or None.

    A period that drifts smears the whole series' periodogram below ``MIN_EXPLAINED``, while
    forecasting needs only the latest period: the latest ``RECENT_SHARES`` of the span are tried
    in turn, and the season must repeat ``RECENT_MIN_CYCLES`` times in the part it is found in.
    """
    observed = _first_observed(series)
    if observed is None:
        return None
    times, values = observed
    for share in RECENT_SHARES:
        latest = times >= times[-1] - share * (times[-1] - times[0])
        if latest.sum() < MIN_OBSERVED:
            continue
        found = _season_of(times[latest], values[latest], time_kind, RECENT_MIN_CYCLES)
        if found is not None:
            return found
    return None


def latest_period(
    series: Series, time_kind: TimeKind, season: float, *, steady: bool = True
) -> float:
    """``season``, or the period of the latest ``LATEST_CYCLES`` cycles of ``series`` when the
    season no longer fits them (a drifting oscillation; see ``DRIFT_SIGNIFICANCE``) and it lies
    within ``MAX_DRIFT`` of the season (further, it is another season: a weekly one beside a
    yearly one), moved on to the series' end (``_period_at_end``). A season that is not
    ``steady`` (``find_recent_season``: the whole series' periodogram smeared it, as a drift
    does) is always taken at the end."""
    observed = _first_observed(series)
    if observed is None:
        return season
    times, values = observed
    stretch = LATEST_CYCLES * season
    latest = times >= times[-1] - stretch
    if latest.sum() < MIN_OBSERVED:
        return season
    t, v = times[latest], values[latest]
    found = _season_of(t, v, time_kind, LATEST_CYCLES / 2)
    if found is None or found == season or not 1 / MAX_DRIFT <= found / season <= MAX_DRIFT:
        return season
    if steady and not _drifted(t, v, season, found):
        return season
    return _period_at_end(times, values, time_kind, found, stretch)


def _drifted(times: np.ndarray, values: np.ndarray, season: float, found: float) -> bool:
    """Whether the period ``found`` explains significantly more of ``values`` than ``season``
    (``DRIFT_SIGNIFICANCE``), not whether it explains a larger share: under a slow drift the two
    periods explain nearly as much, and on sparse weak seasons noise moves the share
    (bench/experiments/long-series/README.md, section 2)."""
    residual = _detrended(times, values)
    # residual degrees of freedom: a line, a sine and a cosine, and the period searched
    return explains_significantly(
        times, residual, found, DRIFT_SIGNIFICANCE, beyond=season, fitted=5
    )


def explains_significantly(
    times: np.ndarray,
    residual: np.ndarray,
    period: float,
    threshold: float,
    *,
    beyond: float | None = None,
    fitted: int = 3,
) -> bool:
    """Whether a sine and a cosine at ``period`` explain ``residual`` [T] (more than those at
    ``beyond`` do, if given) by more than ``threshold`` times the variance they leave, on
    ``len(times) - fitted`` degrees of freedom."""
    explained = _explained(times, residual, period)
    gain = explained - (0.0 if beyond is None else _explained(times, residual, beyond))
    left = (float(residual @ residual) - explained) / max(len(times) - fitted, 1)
    return gain > threshold * left


def _period_at_end(
    times: np.ndarray, values: np.ndarray, time_kind: TimeKind, latest: float, stretch: float
) -> float:
    """The period at the series' end, from ``latest``, the period of its last ``stretch`` of
    time: that average lags a period that goes on drifting. The stretch before gives the drift:
    their middles lie ``stretch`` apart and the end half that past the latest's, so the
    frequency moves on by half its change between them (``latest`` as it is when that earlier
    stretch has no period near it)."""
    before = (times >= times[-1] - 2 * stretch) & (times < times[-1] - stretch)
    if before.sum() < MIN_OBSERVED:
        return latest
    earlier = _season_of(times[before], values[before], time_kind, LATEST_CYCLES / 2)
    if earlier is None or not 1 / MAX_DRIFT <= earlier / latest <= MAX_DRIFT:
        return latest
    return 1.0 / (1.0 / latest + 0.5 * (1.0 / latest - 1.0 / earlier))


def _first_observed(series: Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Times and values of the first dimension with ``MIN_OBSERVED`` observations, if any."""
    for d in range(series.dims):
        observed = ~np.isnan(series.values[:, d])
        if observed.sum() >= MIN_OBSERVED:
            return series.times[observed], series.values[observed, d]
    return None


def _season_of(
    times: np.ndarray, values: np.ndarray, time_kind: TimeKind, min_cycles: float
) -> float | None:
    span = float(times[-1] - times[0])
    spacing = float(np.median(np.diff(times)))
    shortest, longest = 4 * spacing, span / min_cycles
    if not 0 < shortest < longest:
        return None
    residual = _detrended(times, values)
    total = float(residual @ residual)
    if total <= 0:
        return None
    periods = np.geomspace(shortest, longest, GRID_SIZE)
    if time_kind is TimeKind.DATETIME:
        calendar = [p for p in CALENDAR_PERIODS_S if shortest <= p <= longest]
        periods = np.sort(np.concatenate([periods, calendar]))
    explained = np.array([_explained(times, residual, p) for p in periods]) / total
    best = int(np.argmax(explained))
    if explained[best] < MIN_EXPLAINED:
        return None
    period = _refined(times, residual, periods, best)
    if time_kind is TimeKind.DATETIME:
        for calendar_period in CALENDAR_PERIODS_S:
            if abs(period / calendar_period - 1) <= CALENDAR_SNAP:
                return calendar_period
    return period


def _refined(times: np.ndarray, residual: np.ndarray, periods: np.ndarray, best: int) -> float:
    """The peak located between the grid's neighbours of ``periods[best]``: over a long series a
    period off by a grid step drifts by a good part of a season."""
    low = periods[max(best - 1, 0)]
    high = periods[min(best + 1, len(periods) - 1)]
    fine = np.linspace(min(low, high), max(low, high), REFINE_SIZE)
    explained = [_explained(times, residual, p) for p in fine]
    return float(fine[int(np.argmax(explained))])


def _detrended(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    centred = times - times.mean()
    slope, intercept = np.polyfit(centred, values, 1)
    return values - (slope * centred + intercept)


def _explained(times: np.ndarray, residual: np.ndarray, period: float) -> float:
    """Sum of squares that a least-squares sine and cosine at ``period`` remove from residual."""
    phase = 2 * np.pi * times / period
    basis = np.stack([np.sin(phase), np.cos(phase)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, residual, rcond=None)
    fitted = basis @ coefficients
    return float(fitted @ fitted)
