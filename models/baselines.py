"""The naive methods a forecast must beat, on one dimension of one series.

Each takes the observed ``times`` [T] (increasing) and ``values`` [T] of one dimension and answers
at ``query`` [Q] times. They are what a user would try first, so the model's skill is reported as
its error next to theirs on the same held-out points (``models.latent.skill``) and the quality
benchmark scores them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from .series import Series

Baseline = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def linear_interpolation(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Straight lines between the neighbouring observations, constant beyond the ends."""
    return np.interp(query, times, values)


def last_value(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The last observed value everywhere."""
    return np.full(len(query), values[-1], dtype=np.float64)


def drift(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The line through the first and the last observation, continued (Hyndman's drift)."""
    if len(times) < 2 or times[-1] == times[0]:
        return last_value(times, values, query)
    slope = (values[-1] - values[0]) / (times[-1] - times[0])
    return values[-1] + slope * (query - times[-1])


def linear_trend(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The least-squares line through every observation; the last value with a single one."""
    span = times[-1] - times[0] if len(times) else 0.0
    if not span > 0:
        return last_value(times, values, query)
    # in spans from the last time: polyfit's column scaling squares the times, and times
    # spaced 1e-300 apart underflowed to a failed least squares
    slope, intercept = np.polyfit((times - times[-1]) / span, values, 1)
    return slope * ((query - times[-1]) / span) + intercept


def seasonal_naive(
    times: np.ndarray, values: np.ndarray, query: np.ndarray, period: float
) -> np.ndarray:
    """The value one season earlier (whole seasons back until it falls inside the observations),
    read by linear interpolation between the observations around it."""
    back = np.maximum(0.0, np.ceil((query - times[-1]) / period))
    earlier = query - back * period
    return np.interp(earlier, times, values)


EXTRAPOLATION_BASELINES: Mapping[str, Baseline] = MappingProxyType(
    {"last_value": last_value, "drift": drift, "linear_trend": linear_trend}
)


def per_dimension(
    baseline: Baseline, context: Series, query: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """A one-dimensional method applied to each dimension's observed points: [Q, D].

    A dimension with no observation in ``context`` answers ``fallback[d]`` everywhere.
    """
    out = np.empty((len(query), context.dims))
    for d in range(context.dims):
        observed = ~np.isnan(context.values[:, d])
        if not observed.any():
            out[:, d] = fallback[d]
            continue
        out[:, d] = baseline(context.times[observed], context.values[observed, d], query)
    return out


def seasonal(period: float) -> Baseline:
    """``seasonal_naive`` at a fixed period, as a ``Baseline``."""

    def method(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        return seasonal_naive(times, values, query, period)

    return method


def named(name: str, season: float | None) -> Baseline:
    """The naive method called ``name``; ``seasonal_naive`` needs the data's ``season``."""
    if name == "linear_interpolation":
        return linear_interpolation
    if name == "seasonal_naive":
        if season is None:
            raise ValueError("seasonal_naive needs a season, and none was found in the data")
        return seasonal(season)
    if name not in EXTRAPOLATION_BASELINES:
        raise ValueError(f"unknown naive method {name!r}")
    return EXTRAPOLATION_BASELINES[name]
