"""Requested prediction times: from query strings, lists or a grid, to float64 and back.

A model answers in the kind of time it was trained on: numbers, or ISO-8601 datetimes with an
offset (handled as POSIX seconds inside, answered as UTC ISO-8601 strings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.series import SeriesValidationError, TimeKind, parse_times

from .errors import ApiError, invalid_input

# An unencoded "+" in a query string arrives as a space; a space between a time of day and a
# two-digit offset at the end (12:00:00 02:00, 12:00 0530) can only have been that "+".
_SPACED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def times_from_values(raw: Sequence[Any], kind: TimeKind, where: str, limit: int) -> np.ndarray:
    """Times given as JSON values (numbers or ISO strings) as float64, in the order given."""
    if len(raw) > limit:
        raise _too_many(len(raw), limit, where)
    try:
        return parse_times(raw, kind, where)
    except SeriesValidationError as err:
        details = [
            {"loc": f"{where}[{p.index}]", "msg": p.message, "type": str(p.rule)}
            for p in err.problems
        ]
        raise ApiError(422, "invalid_times", str(err.problems[0].message), details) from err


def times_from_query(raw: Sequence[str], kind: TimeKind, where: str, limit: int) -> np.ndarray:
    """Times given as query strings: numbers for a numeric model, ISO-8601 for a datetime one."""
    if kind is TimeKind.DATETIME:
        return times_from_values([restore_plus(text) for text in raw], kind, where, limit)
    values: list[Any] = []
    for text in raw:
        try:
            values.append(float(text))
        except ValueError:
            values.append(text)  # parse_times reports it, with its index
    return times_from_values(values, kind, where, limit)


def restore_plus(text: str) -> str:
    """``text`` with the "+" of its UTC offset put back where a query string turned it into a
    space (``2026-03-01T12:00:00 02:00`` -> ``2026-03-01T12:00:00+02:00``)."""
    return _SPACED_OFFSET.sub(r"\1+\2", text.strip())


def grid_times(start: str, stop: str, num: int, kind: TimeKind, limit: int) -> np.ndarray:
    """``num`` evenly spaced times from ``start`` to ``stop`` inclusive."""
    if not 1 <= num <= limit:
        message = f"num must be between 1 and {limit}, got {num}"
        raise invalid_input("query.num", message)
    first, last = times_from_query([start, stop], kind, "query.start/stop", 2)
    if not last > first and num > 1:
        message = "stop must be later than start for a grid of several times"
        raise invalid_input("query.stop", message)
    return np.linspace(first, last, num)


def format_times(times: np.ndarray, kind: TimeKind) -> list[float | str]:
    """Times for a response: numbers, or UTC ISO-8601 strings for a datetime model."""
    if kind is TimeKind.DATETIME:
        return [datetime.fromtimestamp(float(t), UTC).isoformat() for t in times]
    return [float(t) for t in times]


def _too_many(count: int, limit: int, where: str) -> ApiError:
    return ApiError(
        422,
        "too_many_times",
        f"{count} times asked; at most {limit} per request (ODECAST_MAX_PREDICT_TIMES)",
        [{"loc": where, "msg": f"at most {limit} times"}],
    )
