"""Where a chart's axis ticks go and what they say: round numbers, or UTC dates.

matplotlib's locators choose the positions (the same choices its own axes make); the labels are
formatted here for numbers and by matplotlib's ``ConciseDateFormatter`` for dates. Nothing here
draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import matplotlib.dates as mdates
import numpy as np
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

TICK_STEPS = (1, 2, 2.5, 5, 10)
"""Tick spacings allowed for numbers, times a power of ten."""

MAX_DECIMALS = 10
SCIENTIFIC_ABOVE = 1e6
"""Tick values this large (or steps below 1e-4) are written in scientific notation."""


@dataclass(frozen=True)
class Ticks:
    """Tick positions ``values`` (``[K]``, in the axis' data units, ascending, inside its range),
    their ``labels``, and ``offset``: text that completes every label (the year and day of a
    date axis), or ``""``."""

    values: np.ndarray
    labels: tuple[str, ...]
    offset: str = ""


def number_ticks(low: float, high: float, most: int) -> Ticks:
    """At most about ``most`` round-number ticks inside ``[low, high]``."""
    locator = MaxNLocator(nbins=max(most - 1, 1), steps=list(TICK_STEPS))
    values = _inside(locator.tick_values(low, high), low, high)
    return Ticks(values, number_labels(values))


def date_ticks(low: float, high: float, most: int) -> Ticks:
    """Ticks on a date axis whose values are matplotlib date numbers (days), labelled in UTC;
    none before year 1 or after 9999 (an axis padded past them has no dates there)."""
    locator = mdates.AutoDateLocator(tz=UTC, minticks=2, maxticks=max(most, 3))
    first, last = (float(np.clip(x, *_DATE_RANGE)) for x in (low, high))
    values = _inside(
        np.asarray(locator.tick_values(mdates.num2date(first), mdates.num2date(last))), first, last
    )
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)
    labels = tuple(formatter.format_ticks(values)) if values.size else ()
    return Ticks(values, labels, formatter.get_offset() if values.size else "")


# What matplotlib can turn into dates, in its date numbers, with a day to spare each side.
_DATE_RANGE = (
    float(mdates.date2num(datetime(1, 1, 2, tzinfo=UTC))),
    float(mdates.date2num(datetime(9999, 12, 30, tzinfo=UTC))),
)


def number_labels(values: np.ndarray) -> tuple[str, ...]:
    """Labels for evenly spaced ``values``: as many decimals as their step needs, or
    scientific notation for very large values or very small steps."""
    if values.size == 0:
        return ()
    step = float(np.min(np.diff(values))) if values.size > 1 else abs(float(values[0])) or 1.0
    largest = float(np.max(np.abs(values)))
    if largest >= SCIENTIFIC_ABOVE or step < 1e-4:
        digits = min(max(math.ceil(math.log10(max(largest, step) / step)) + 1, 1), 12)
        return tuple(_no_negative_zero(f"{v:.{digits}g}") for v in values)
    decimals = next(
        (d for d in range(MAX_DECIMALS + 1) if math.isclose(round(step, d), step, rel_tol=1e-6)),
        MAX_DECIMALS,
    )
    return tuple(_no_negative_zero(f"{v:.{decimals}f}") for v in values)


def _inside(values: ArrayLike, low: float, high: float) -> np.ndarray:
    slack = (high - low) * 1e-9
    values = np.asarray(values, dtype=np.float64)
    return values[(values >= low - slack) & (values <= high + slack)]


def _no_negative_zero(text: str) -> str:
    """``-0``, ``-0.0`` and the like as their unsigned selves."""
    if text.startswith("-") and not any(c in "123456789" for c in text.partition("e")[0]):
        return text[1:]
    return text
