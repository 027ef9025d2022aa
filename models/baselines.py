"""The naive methods a forecast must beat, on one dimension of one series.

Each takes the observed ``times`` [T] (increasing) and ``values`` [T] of one dimension and answers
at ``query`` [Q] times. They are what a user would try first, so the model's skill is reported as
its error next to theirs on the same held-out points (``models.latent.skill``) and the quality
benchmark scores them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    # in spans from the last time: polyfit's column scaling squares the times, which underflows
    # for times spaced 1e-300 apart and fails the least squares
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


# Lags (in observations) whose pairs fit ``mean_reversion``'s rate; the rates tried: none, or
# log-spaced from a tenth of a return per span to two per mean spacing. A rate under
# REVERSION_RETURNS per span counts as none: a random walk's own mean makes it look
# mean-reverting (the Dickey-Fuller bias), and its fitted rate is rarely that fast
# (bench/experiments/held-out-rules/README.md, section 5).
REVERSION_LAGS = (1, 2, 4, 8)
REVERSION_RATES = 48
REVERSION_RETURNS = 20.0
# The rate is fitted on at most this many pairs a lag, spread over the series: its cost stops
# growing with the series' length (bench/experiments/held-out-rules/README.md, section 5).
REVERSION_PAIRS = 512


@dataclass(frozen=True)
class Reversion:
    """An AR(1) (Ornstein-Uhlenbeck) process fitted to one dimension's observations.

    Attributes:
        mean: the observations' mean, what forecasts return to.
        rate: the return rate per time unit (0: none, the last value stands).
        last_time, last_value: the latest observation, where forecasts start.
        variance: the observations' variance, the process's around its mean.
    """

    mean: float
    rate: float
    last_time: float
    last_value: float
    variance: float

    def __call__(self, query: np.ndarray) -> np.ndarray:
        """The forecast at ``query`` [Q]: ``m + (x_T - m) exp(-r (t - t_T))``."""
        return self.mean + (self.last_value - self.mean) * np.exp(-self.rate * self._ahead(query))

    def spread(self, query: np.ndarray) -> np.ndarray:
        """The forecast's variance at ``query`` [Q], ``v (1 - exp(-2 r (t - t_T)))``: none
        without a rate (a walk's variance grows without a bound to give)."""
        return self.variance * -np.expm1(-2 * self.rate * self._ahead(query))

    def _ahead(self, query: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(query, dtype=np.float64) - self.last_time, 0.0)


def fit_reversion(times: np.ndarray, values: np.ndarray) -> Reversion:
    """The AR(1) process behind ``times`` [T] (increasing) and ``values`` [T].

    The rate is the one tried (``REVERSION_RATES`` of them, none under ``REVERSION_RETURNS`` per
    span) that best predicts the observations' distance from the mean from that of the
    observations ``REVERSION_LAGS`` before them; none with fewer than 3 observations.
    """
    mean = float(np.mean(values)) if len(values) else 0.0
    last = (float(times[-1]), float(values[-1])) if len(times) else (0.0, mean)
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    variance = float(np.var(values)) if len(values) else 0.0
    if len(times) < 3 or not span > 0:
        return Reversion(mean, 0.0, *last, variance)
    distance = values - mean  # [T]
    fastest = 2.0 * (len(times) - 1) / span
    rates = np.concatenate([[0.0], np.geomspace(0.1 / span, fastest, REVERSION_RATES)])  # [R]
    loss = np.zeros(len(rates))
    for lag in REVERSION_LAGS:
        if lag >= len(times):
            break
        pairs = np.unique(np.linspace(lag, len(times) - 1, REVERSION_PAIRS).astype(int))  # [P]
        later, earlier = distance[pairs], distance[pairs - lag]
        elapsed = times[pairs] - times[pairs - lag]
        kept = np.exp(-rates[:, None] * elapsed[None])  # [R, P]
        loss += np.mean((later[None] - kept * earlier[None]) ** 2, axis=1)
    rate = float(rates[int(np.argmin(loss))])
    return Reversion(mean, rate if rate >= REVERSION_RETURNS / span else 0.0, *last, variance)


def mean_reversion(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """An exponential return from the last value to the observations' mean: the forecast of an
    AR(1) (Ornstein-Uhlenbeck) process at irregular times (``fit_reversion``). A series that
    wanders off (a trend, a random walk) gets no rate, so the last value; a season gets a rate
    that forgets it, so this is no method for seasonal data."""
    return fit_reversion(times, values)(query)


EXTRAPOLATION_BASELINES: Mapping[str, Baseline] = MappingProxyType(
    {"last_value": last_value, "drift": drift, "linear_trend": linear_trend}
)
# Forecasts a fitted model may lean on beside the naive methods; not among the baselines its
# skill is reported against (a user's first try), since they fit something.
MEAN_REVERSION = "mean_reversion"
FORECAST_PARTNERS: Mapping[str, Baseline] = MappingProxyType({MEAN_REVERSION: mean_reversion})


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


# The seasonal naive method at another period than the data's season (a calendar companion,
# ``models.latent.base``) is named by this prefix and the period: "seasonal_naive:604800".
SEASONAL_AT = "seasonal_naive:"


def seasonal_name(period: float) -> str:
    """The name of the seasonal naive method at ``period`` beside the season."""
    return f"{SEASONAL_AT}{period:g}"


def named(name: str, season: float | None) -> Baseline:
    """The naive method called ``name``; ``seasonal_naive`` needs the data's ``season``, and
    ``seasonal_naive:P`` is the method at the period P."""
    if name == "linear_interpolation":
        return linear_interpolation
    if name.startswith(SEASONAL_AT):
        try:
            period = float(name.removeprefix(SEASONAL_AT))
        except ValueError:
            period = math.nan
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f"unknown naive method {name!r}: its period is not a positive number")
        return seasonal(period)
    if name == "seasonal_naive":
        if season is None:
            raise ValueError("seasonal_naive needs a season, and none was found in the data")
        return seasonal(season)
    known = {**EXTRAPOLATION_BASELINES, **FORECAST_PARTNERS}
    if name not in known:
        raise ValueError(f"unknown naive method {name!r}")
    return known[name]
