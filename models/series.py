"""Irregularly sampled series: parsing and validation in one place.

A series as clients send it (SPEC section 2) has an id, times that are numbers or ISO-8601
strings with an offset (one kind per data set), and values ``[T][D]`` or ``[T]`` with ``None``
where nothing was observed. Observations need not be sorted. Everything a client can get wrong is
reported as a ``SeriesProblem`` naming the series, the observation index and the rule broken.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# One error response lists at most this many problems; the rest are counted.
MAX_PROBLEMS = 50
# Beyond these, float32 training and float64 time arithmetic lose the data's meaning.
MAX_ABS_TIME = 1e12  # numeric times
# Datetimes are kept as POSIX seconds in float64 and answered as UTC ISO-8601 strings, which end
# with years 1 and 9999: their first and last days are kept clear, so that no UTC offset, no
# rounding of float64 seconds and no grid between two accepted times falls outside.
EARLIEST_DATETIME = datetime(1, 1, 2, tzinfo=UTC)
LATEST_DATETIME = datetime(9999, 12, 30, tzinfo=UTC)
MAX_ABS_VALUE = 1e15


class TimeKind(StrEnum):
    """How a data set's times were given; predictions answer in the same kind."""

    NUMERIC = "numeric"
    DATETIME = "datetime"  # ISO-8601 with an offset, stored as POSIX seconds


class Rule(StrEnum):
    """The rules a series can break (machine-readable codes for error responses)."""

    BAD_ID = "bad_id"
    DUPLICATE_ID = "duplicate_id"
    EMPTY = "empty_series"
    LENGTH_MISMATCH = "length_mismatch"
    BAD_TIME = "bad_time"
    MIXED_TIME_KINDS = "mixed_time_kinds"
    NON_FINITE_TIME = "non_finite_time"
    DUPLICATE_TIME = "duplicate_time"
    BAD_VALUE = "bad_value"
    NON_FINITE_VALUE = "non_finite_value"
    RAGGED_ROW = "ragged_row"
    TIME_OUT_OF_RANGE = "time_out_of_range"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    EMPTY_ROW = "empty_row"
    DIMENSION_MISMATCH = "dimension_mismatch"


@dataclass(frozen=True)
class SeriesProblem:
    """One broken rule: which series (its id, or ``#position`` without a valid one), which
    observation (its index as sent, or None for the whole series) and why."""

    series: str
    index: int | None
    rule: Rule
    message: str

    def __str__(self) -> str:
        where = self.series if self.index is None else f"{self.series}[{self.index}]"
        return f"{where}: {self.message}"


class SeriesValidationError(ValueError):
    """A data set that breaks one or more rules; ``problems`` lists them (at most MAX_PROBLEMS)."""

    def __init__(self, problems: Sequence[SeriesProblem], more: int = 0) -> None:
        self.problems = tuple(problems)
        self.more = more
        listed = "; ".join(str(p) for p in self.problems[:5])
        hidden = len(self.problems) - 5 + more
        suffix = f" (and {hidden} more)" if hidden > 0 else ""
        super().__init__(f"invalid series: {listed}{suffix}")


@dataclass(frozen=True, eq=False)
class Series:
    """One series, sorted by time.

    Attributes:
        id: the series' id.
        times: float64, shape [T], strictly increasing; POSIX seconds for datetime data sets.
        values: float64, shape [T, D]; NaN where a dimension was not observed. Every row has at
            least one observed entry.
    """

    id: str
    times: np.ndarray
    values: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Observed entries, bool [T, D]."""
        return ~np.isnan(self.values)

    @property
    def dims(self) -> int:
        return self.values.shape[1]

    def __len__(self) -> int:
        return len(self.times)

    def observed_range(self, min_points: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Each dimension's first and last observed time [D]; NaN in a dimension observed fewer
        than ``min_points`` times."""
        first = np.full(self.dims, np.nan)
        last = first.copy()
        for d in range(self.dims):
            times = self.times[~np.isnan(self.values[:, d])]
            if len(times) >= max(min_points, 1):
                first[d], last[d] = times[0], times[-1]
        return first, last


@dataclass(frozen=True, eq=False)
class Dataset:
    """Series that share their number of dimensions and their kind of time."""

    series: tuple[Series, ...]
    time_kind: TimeKind

    @property
    def dims(self) -> int:
        return self.series[0].dims

    def __len__(self) -> int:
        return len(self.series)


def parse_dataset(raw_series: Sequence[Mapping[str, Any]]) -> Dataset:
    """Validate client series (``{"id", "times", "values"}`` each) into a sorted ``Dataset``.

    Raises:
        SeriesValidationError: listing every broken rule, up to MAX_PROBLEMS.
    """
    problems = _Problems()
    if not raw_series:
        problems.add("#0", None, Rule.EMPTY, "no series were given")
        problems.raise_if_any()
    kinds = {
        position: _time_kind(raw.get("times"))
        for position, raw in enumerate(raw_series)
        if isinstance(raw, Mapping)
    }
    found = set(kinds.values()) - {None}
    time_kind = TimeKind.DATETIME if TimeKind.DATETIME in found else TimeKind.NUMERIC
    if len(found) > 1:
        first = next(p for p, kind in kinds.items() if kind is not None)
        other = next(p for p, kind in kinds.items() if kind not in (None, kinds[first]))
        problems.add(
            _name(raw_series[other], other),
            None,
            Rule.MIXED_TIME_KINDS,
            f"its times are {kinds[other]} but those of series "
            f"{_name(raw_series[first], first)!r} are {kinds[first]}; use one kind per request",
        )
    parsed: list[Series] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_series):
        series = _parse_one(raw, position, time_kind, problems)
        series_id = raw.get("id") if isinstance(raw, Mapping) else None
        if isinstance(series_id, str):
            if series_id in seen:
                problems.add(series_id, None, Rule.DUPLICATE_ID, "another series has the same id")
            seen.add(series_id)
        if series is not None:
            parsed.append(series)
    if parsed and problems.empty:
        dims = parsed[0].dims
        for series in parsed[1:]:
            if series.dims != dims:
                problems.add(
                    series.id,
                    None,
                    Rule.DIMENSION_MISMATCH,
                    f"has {series.dims} dimensions but series {parsed[0].id!r} has {dims}",
                )
    problems.raise_if_any()
    return Dataset(tuple(parsed), time_kind)


def _name(raw: Mapping[str, Any], position: int) -> str:
    """A series' id if it has a valid one, else ``#position``."""
    series_id = raw.get("id")
    return (
        series_id
        if isinstance(series_id, str) and ID_PATTERN.fullmatch(series_id)
        else f"#{position}"
    )


def parse_times(raw_times: Iterable[Any], time_kind: TimeKind, series: str) -> np.ndarray:
    """Times as float64 (POSIX seconds for datetimes), in the order given; raise on any bad one."""
    problems = _Problems()
    times = _convert_times(list(raw_times), time_kind, series, problems)
    problems.raise_if_any()
    return times


def _parse_one(
    raw: Mapping[str, Any], position: int, time_kind: TimeKind, problems: _Problems
) -> Series | None:
    if not isinstance(raw, Mapping):
        problems.add(f"#{position}", None, Rule.BAD_ID, "a series must be an object with an id")
        return None
    series_id = raw.get("id")
    if not isinstance(series_id, str) or not ID_PATTERN.match(series_id):
        problems.add(
            f"#{position}",
            None,
            Rule.BAD_ID,
            f"id {series_id!r} must match {ID_PATTERN.pattern} (letters, digits, _ and -)",
        )
        return None
    raw_times, raw_values = raw.get("times"), raw.get("values")
    if not isinstance(raw_times, list | tuple) or not isinstance(raw_values, list | tuple):
        problems.add(series_id, None, Rule.EMPTY, "times and values must both be lists")
        return None
    if len(raw_times) == 0:
        problems.add(series_id, None, Rule.EMPTY, "has no observations")
        return None
    if len(raw_times) != len(raw_values):
        problems.add(
            series_id,
            None,
            Rule.LENGTH_MISMATCH,
            f"has {len(raw_times)} times but {len(raw_values)} rows of values",
        )
        return None
    before = problems.count
    times = _convert_times(list(raw_times), time_kind, series_id, problems)
    values = _convert_values(raw_values, series_id, problems)
    if problems.count > before:
        return None
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    duplicates = np.flatnonzero(np.diff(times) == 0)
    for d in duplicates[:5]:
        problems.add(
            series_id,
            int(order[d + 1]),
            Rule.DUPLICATE_TIME,
            f"time {raw_times[order[d + 1]]!r} also appears at index {int(order[d])}",
        )
    if duplicates.size:
        return None
    return Series(series_id, times, values)


def _time_kind(raw_times: Any) -> TimeKind | None:
    if not isinstance(raw_times, list | tuple) or not raw_times:
        return None
    first = raw_times[0]
    return TimeKind.DATETIME if isinstance(first, str | datetime) else TimeKind.NUMERIC


def _convert_times(
    raw_times: list[Any], time_kind: TimeKind, series: str, problems: _Problems
) -> np.ndarray:
    times = np.empty(len(raw_times), dtype=np.float64)
    for i, raw in enumerate(raw_times):
        value = _convert_time(raw, time_kind, series, i, problems)
        times[i] = math.nan if value is None else value
    return times


def _convert_time(
    raw: Any, time_kind: TimeKind, series: str, index: int, problems: _Problems
) -> float | None:
    if time_kind is TimeKind.NUMERIC:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            problems.add(
                series,
                index,
                Rule.MIXED_TIME_KINDS if isinstance(raw, str) else Rule.BAD_TIME,
                f"time {raw!r} is not a number like the series' other times",
            )
            return None
        if isinstance(raw, float) and not math.isfinite(raw):  # a JSON integer always is
            problems.add(series, index, Rule.NON_FINITE_TIME, f"time {raw!r} is not finite")
            return None
        if abs(raw) > MAX_ABS_TIME:  # exact for integers of any size
            message = f"time {_short(raw)} is beyond +-{MAX_ABS_TIME:g}; shift or rescale them"
            problems.add(series, index, Rule.TIME_OUT_OF_RANGE, message)
            return None
        return float(raw)
    if isinstance(raw, str):
        try:
            # CPython's parser stops at a NUL and took "...Z\x00" for "...Z"
            if not raw.isprintable():
                raise ValueError("a control character")
            raw_datetime = datetime.fromisoformat(raw)
        except ValueError:
            problems.add(series, index, Rule.BAD_TIME, f"time {raw!r} is not ISO-8601")
            return None
    elif isinstance(raw, datetime):
        raw_datetime = raw
    else:
        problems.add(
            series,
            index,
            Rule.MIXED_TIME_KINDS,
            f"time {raw!r} is not an ISO-8601 string like the data set's other times",
        )
        return None
    if raw_datetime.utcoffset() is None:
        problems.add(
            series,
            index,
            Rule.BAD_TIME,
            f"time {raw!r} has no UTC offset; add one, e.g. 'Z' or '+02:00'",
        )
        return None
    seconds = raw_datetime.timestamp()
    if not EARLIEST_DATETIME.timestamp() <= seconds <= LATEST_DATETIME.timestamp():
        message = (
            f"time {raw!r} is outside {EARLIEST_DATETIME.date()} to {LATEST_DATETIME.date()} "
            "(UTC), the dates this service answers in"
        )
        problems.add(series, index, Rule.TIME_OUT_OF_RANGE, message)
        return None
    return seconds


def _convert_values(raw_values: Sequence[Any], series: str, problems: _Problems) -> np.ndarray:
    """Rows as float64 [T, D] with NaN for None; a 1-D list is one dimension."""
    one_dimensional = not any(isinstance(row, list | tuple) for row in raw_values)
    rows = [[row] for row in raw_values] if one_dimensional else raw_values
    width = next((len(row) for row in rows if isinstance(row, list | tuple)), 1)
    values = np.full((len(rows), max(width, 1)), np.nan)
    for i, row in enumerate(rows):
        problem = _row_shape_problem(row, width, mixed=not one_dimensional)
        if problem is not None:
            problems.add(series, i, Rule.RAGGED_ROW, problem)
            continue
        for d, entry in enumerate(row):
            if entry is None:
                continue
            if isinstance(entry, bool) or not isinstance(entry, int | float):
                problems.add(series, i, Rule.BAD_VALUE, f"value {entry!r} is not a number")
            elif isinstance(entry, float) and not math.isfinite(entry):
                problems.add(
                    series,
                    i,
                    Rule.NON_FINITE_VALUE,
                    f"value {entry!r} is not finite; send null for a missing value",
                )
            elif abs(entry) > MAX_ABS_VALUE:
                message = f"value {_short(entry)} is beyond +-{MAX_ABS_VALUE:g}; rescale them"
                problems.add(series, i, Rule.VALUE_OUT_OF_RANGE, message)
            else:
                values[i, d] = float(entry)
        if all(entry is None for entry in row):
            problems.add(series, i, Rule.EMPTY_ROW, "row has no observed value")
    return values


def _short(number: float) -> str:
    """A number for a message: a 400-digit integer shortened."""
    text = repr(number)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def _row_shape_problem(row: Any, width: int, *, mixed: bool) -> str | None:
    """Why ``row`` does not fit a table of ``width`` columns, or None if it does."""
    if not isinstance(row, list | tuple):
        if mixed:
            return (
                f"row is the single value {row!r} but other rows are lists; send every row as "
                "a list of D values, or every row as one number for a 1-D series"
            )
        return f"row {row!r} is not a list of values"
    if len(row) == 0:
        return "row is empty; give each dimension a value (null where not observed)"
    if width == 0:
        return f"row has {len(row)} values but row 0 is empty"
    if len(row) != width:
        return f"row has {len(row)} values but row 0 has {width}"
    return None


class _Problems:
    """Collects problems up to MAX_PROBLEMS and counts the rest."""

    def __init__(self) -> None:
        self.items: list[SeriesProblem] = []
        self.count = 0

    @property
    def empty(self) -> bool:
        return self.count == 0

    def add(self, series: str, index: int | None, rule: Rule, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(SeriesProblem(series, index, rule, message))

    def raise_if_any(self) -> None:
        if self.count:
            raise SeriesValidationError(self.items, more=self.count - len(self.items))
