"""Axis ticks of the ``GET /predict.png`` chart: round numbers and their labels, UTC dates."""

from __future__ import annotations

from datetime import UTC, datetime

import matplotlib.dates as mdates
import numpy as np
import pytest

from service.chart_ticks import date_ticks, number_labels, number_ticks


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([0.0, 2.5, 5.0], ("0.0", "2.5", "5.0")),
        ([-0.2, 0.0, 0.2], ("-0.2", "0.0", "0.2")),
        ([310.0, 320.0, 330.0], ("310", "320", "330")),
        ([-1e-17, 1.0], ("0", "1")),
        ([0.001, 0.002], ("0.001", "0.002")),
        ([1e6, 2e6, 3e6], ("1e+06", "2e+06", "3e+06")),
        ([1.00001e7, 1.00002e7], ("1.00001e+07", "1.00002e+07")),
        ([1e-6, 2e-6], ("1e-06", "2e-06")),
        ([7.0], ("7",)),
        ([], ()),
    ],
)
def test_number_labels_show_the_step_and_no_more(values: list[float], labels: tuple) -> None:
    assert number_labels(np.array(values)) == labels


def test_number_ticks_are_round_inside_the_range_and_not_too_many() -> None:
    ticks = number_ticks(-2.3, 1.7, 6)
    assert list(ticks.values) == [-2.0, -1.0, 0.0, 1.0]
    assert ticks.labels == ("-2", "-1", "0", "1") and ticks.offset == ""
    for low, high, most in [(0.0, 1e-9, 5), (315.2, 371.9, 4), (-1e300, 1e300, 8), (5.0, 5.0, 3)]:
        ticks = number_ticks(low, high, most)
        assert np.all((ticks.values >= low) & (ticks.values <= high)), (low, high)
        assert len(ticks.values) <= most + 1 and len(ticks.labels) == len(ticks.values)


def test_date_ticks_are_utc_with_the_date_in_the_offset() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    low = float(mdates.date2num(start))
    ticks = date_ticks(low, low + 10 / 24, 8)
    assert ticks.labels[0] == "Mar-01" and "02:00" in ticks.labels
    assert ticks.offset == "2024-Mar-01"
    years = date_ticks(low, low + 365.25 * 30, 8)
    assert all(label.isdigit() and len(label) == 4 for label in years.labels), years.labels


def test_date_ticks_of_an_axis_padded_past_year_9999_or_before_year_1():
    last = float(mdates.date2num(datetime(9999, 12, 30, tzinfo=UTC)))
    first = float(mdates.date2num(datetime(1, 1, 2, tzinfo=UTC)))
    late = date_ticks(last - 3650, last + 400, 8)  # padding past the last representable day
    assert late.values.size and (late.values <= last).all()
    early = date_ticks(first - 400, first + 3650, 8)
    assert early.values.size and (early.values >= first).all()
