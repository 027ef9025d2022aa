"""Real long series for the quality benchmark, read from files inside the statsmodels package
(``pip install -e ".[bench]"``); nothing is downloaded at run time.

- ``co2``: weekly atmospheric CO2 at Mauna Loa in ppm, 1958-03-29 to 2001-12-29, from
  ``statsmodels/datasets/co2/co2.csv`` (2,284 weeks, of which the 59 without a measurement are
  dropped, leaving 2,225 points and a few gaps). The commonest long forecasting case: a steady
  trend, a yearly season and dense noisy points, about 2,000 of them. Datetime times (POSIX
  seconds, the weeks' dates at midnight UTC); season 365.25 days.
- ``sunspots``: the yearly mean sunspot number, 1700 to 2008, from
  ``statsmodels/datasets/sunspots/sunspots.csv`` (309 points). Cycles of about 11 years whose
  length and height vary, and no trend: nonlinear dynamics rather than a fixed season, which is
  what a latent ODE should capture and seasonal models cannot. Numeric times in years; season
  11 years.

Each loader returns a ``Dataset`` of one series, D = 1, the same on every call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType

import numpy as np
import pandas as pd

from models.series import Dataset, Series, TimeKind

DAY_S = 86_400.0
YEAR_DAYS = 365.25
CO2_SEASON_S = YEAR_DAYS * DAY_S
SUNSPOT_CYCLE_YEARS = 11.0


@dataclass(frozen=True)
class RealSeries:
    """A real long series.

    Attributes:
        load: returns the series as a one-series ``Dataset``.
        season: its season in its time units (seconds for datetime data).
        dates: the calendar dates of its times [T], for methods that need dates (Prophet).
    """

    load: Callable[[], Dataset]
    season: float
    dates: Callable[[np.ndarray], pd.DatetimeIndex]


def co2() -> Dataset:
    """Mauna Loa weekly CO2 (ppm) without the missing weeks; times in POSIX seconds."""
    source = _statsmodels_dataset("co2")

    frame = source.load_pandas().data.dropna()
    times = np.asarray((frame.index - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1))
    values = frame["co2"].to_numpy(dtype=np.float64)[:, None]
    return Dataset((Series("co2", times.astype(np.float64), values),), TimeKind.DATETIME)


def sunspots() -> Dataset:
    """Yearly mean sunspot numbers; times in years (1700.0, ..., 2008.0)."""
    source = _statsmodels_dataset("sunspots")

    frame = source.load_pandas().data
    times = frame["YEAR"].to_numpy(dtype=np.float64)
    values = frame["SUNACTIVITY"].to_numpy(dtype=np.float64)[:, None]
    return Dataset((Series("sunspots", times, values),), TimeKind.NUMERIC)


def _statsmodels_dataset(name: str) -> ModuleType:
    """The module of one of statsmodels' bundled data sets; a clear error without statsmodels."""
    try:
        return importlib.import_module(f"statsmodels.datasets.{name}")
    except ImportError as error:
        raise ImportError(
            f"the real series need statsmodels: .venv/bin/pip install -e '.[bench]' ({error})"
        ) from error


def posix_dates(times: np.ndarray) -> pd.DatetimeIndex:
    """POSIX seconds [T] as naive UTC dates."""
    return pd.DatetimeIndex(pd.to_datetime(times, unit="s"))


def year_dates(times: np.ndarray) -> pd.DatetimeIndex:
    """Years [T] as dates: a whole year is its 1 January, a fraction of one adds that share of
    365.25 days."""
    whole = np.floor(times).astype(int)
    starts = pd.to_datetime({"year": whole, "month": 1, "day": 1})
    offsets = pd.to_timedelta((times - whole) * YEAR_DAYS, unit="D")
    return pd.DatetimeIndex(starts + offsets)


REAL_SERIES: Mapping[str, RealSeries] = MappingProxyType(
    {
        "co2": RealSeries(co2, CO2_SEASON_S, posix_dates),
        "sunspots": RealSeries(sunspots, SUNSPOT_CYCLE_YEARS, year_dates),
    }
)
