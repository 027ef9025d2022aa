"""Series validation: every rule names the series, the observation index and the rule."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from models.series import (
    MAX_PROBLEMS,
    Rule,
    SeriesValidationError,
    TimeKind,
    parse_dataset,
    parse_times,
)


def problems_of(raw_series):
    with pytest.raises(SeriesValidationError) as caught:
        parse_dataset(raw_series)
    return caught.value.problems


def test_unsorted_observations_are_sorted_with_their_values():
    dataset = parse_dataset(
        [{"id": "a", "times": [2.0, 0.5, 1.0], "values": [[3.0, None], [1.0, 2.0], [None, 4.0]]}]
    )
    (series,) = dataset.series
    np.testing.assert_array_equal(series.times, [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(series.values[:, 0], [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(series.mask, [[True, True], [False, True], [True, False]])
    assert dataset.time_kind is TimeKind.NUMERIC and dataset.dims == 2


def test_a_missing_value_in_a_one_dimensional_series_is_an_empty_row():
    (problem,) = problems_of([{"id": "a", "times": [0, 1, 2], "values": [1.5, None, 2.5]}])
    assert problem.rule is Rule.EMPTY_ROW and problem.index == 1


def test_one_dimensional_series_shape():
    dataset = parse_dataset([{"id": "a", "times": [0, 1, 2], "values": [1.5, 2.0, 2.5]}])
    assert dataset.series[0].values.shape == (3, 1)
    assert dataset.dims == 1


def test_iso_timestamps_with_offsets_become_posix_seconds():
    dataset = parse_dataset(
        [
            {
                "id": "s",
                "times": [
                    "2026-01-01T00:00:10+00:00",
                    "2026-01-01T01:00:00+01:00",
                    "2026-01-01T00:00:05Z",
                ],
                "values": [1.0, 2.0, 3.0],
            }
        ]
    )
    origin = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert dataset.time_kind is TimeKind.DATETIME
    np.testing.assert_allclose(dataset.series[0].times - origin, [0.0, 5.0, 10.0])


@pytest.mark.parametrize(
    ("raw", "rule", "index"),
    [
        ({"id": "a", "times": [0.0, 1.0, 0.0], "values": [1.0, 2.0, 3.0]}, Rule.DUPLICATE_TIME, 2),
        ({"id": "a", "times": [0.0, math.nan], "values": [1.0, 2.0]}, Rule.NON_FINITE_TIME, 1),
        ({"id": "a", "times": [0.0, math.inf], "values": [1.0, 2.0]}, Rule.NON_FINITE_TIME, 1),
        ({"id": "a", "times": [0.0, 1.0], "values": [1.0, math.inf]}, Rule.NON_FINITE_VALUE, 1),
        ({"id": "a", "times": [0.0, 1.0], "values": [1.0, math.nan]}, Rule.NON_FINITE_VALUE, 1),
        ({"id": "a", "times": [0.0, 1.0], "values": [[1.0, 2.0], [None, None]]}, Rule.EMPTY_ROW, 1),
        ({"id": "a", "times": [0.0, 1.0], "values": [[1.0, 2.0], [3.0]]}, Rule.RAGGED_ROW, 1),
        ({"id": "a", "times": [0.0, 1.0], "values": [1.0, "x"]}, Rule.BAD_VALUE, 1),
        ({"id": "a", "times": [0.0, 1.0], "values": [1.0, True]}, Rule.BAD_VALUE, 1),
        (
            {"id": "a", "times": [0.0, "2026-01-01T00:00:00Z"], "values": [1.0, 2.0]},
            Rule.MIXED_TIME_KINDS,
            1,
        ),
        ({"id": "a", "times": ["2026-01-01T00:00:00"], "values": [1.0]}, Rule.BAD_TIME, 0),
        ({"id": "a", "times": ["yesterday"], "values": [1.0]}, Rule.BAD_TIME, 0),
        # CPython's fromisoformat stops at a NUL
        ({"id": "a", "times": ["2026-01-01T00:00:00Z\x00"], "values": [1.0]}, Rule.BAD_TIME, 0),
        ({"id": "a", "times": [0.0, 1.0], "values": [1.0]}, Rule.LENGTH_MISMATCH, None),
        ({"id": "a", "times": [], "values": []}, Rule.EMPTY, None),
        ({"id": "a/../b", "times": [0.0], "values": [1.0]}, Rule.BAD_ID, None),
        ({"id": "x" * 65, "times": [0.0], "values": [1.0]}, Rule.BAD_ID, None),
    ],
)
def test_each_rule_is_reported_with_series_and_index(raw, rule, index):
    (problem,) = problems_of([raw])
    assert problem.rule is rule
    assert problem.index == index
    assert problem.series == ("#0" if rule is Rule.BAD_ID else "a")
    assert problem.message


def test_problems_across_series_are_all_listed():
    problems = problems_of(
        [
            {"id": "a", "times": [0.0, 0.0], "values": [1.0, 2.0]},
            {"id": "b", "times": [0.0, 1.0], "values": [1.0, math.nan]},
            {"id": "a", "times": [0.0], "values": [1.0]},
        ]
    )
    assert [(p.series, p.rule) for p in problems] == [
        ("a", Rule.DUPLICATE_TIME),
        ("b", Rule.NON_FINITE_VALUE),
        ("a", Rule.DUPLICATE_ID),
    ]


def test_series_of_different_dimensions_are_rejected():
    (problem,) = problems_of(
        [
            {"id": "a", "times": [0.0], "values": [[1.0, 2.0]]},
            {"id": "b", "times": [0.0], "values": [[1.0]]},
        ]
    )
    assert problem.rule is Rule.DIMENSION_MISMATCH and problem.series == "b"


def test_mixed_time_kinds_across_series_are_rejected():
    problems = problems_of(
        [
            {"id": "a", "times": [0.0], "values": [1.0]},
            {"id": "b", "times": ["2026-01-01T00:00:00Z"], "values": [1.0]},
        ]
    )
    mixed = [p for p in problems if p.rule is Rule.MIXED_TIME_KINDS and p.index is None]
    assert [p.series for p in mixed] == ["b"]  # the series that differs, named
    assert "datetime" in mixed[0].message and "'a'" in mixed[0].message


def test_absurd_magnitudes_are_rejected_with_their_index():
    problems = problems_of([{"id": "a", "times": [0.0, 2e12, 3.0], "values": [1.0, 2.0, 1e16]}])
    found = {(p.rule, p.index) for p in problems}
    assert found == {(Rule.TIME_OUT_OF_RANGE, 1), (Rule.VALUE_OUT_OF_RANGE, 2)}
    parse_dataset([{"id": "a", "times": [-1e12, 1e12], "values": [-1e15, 1e15]}])  # the limits


def test_datetimes_keep_clear_of_the_first_and_last_day_of_iso_years():
    """Answered as UTC ISO-8601, a time past 9999 (a float64 POSIX second rounded up) or
    before year 1 (an offset east of UTC on 0001-01-01) had no string: a 500 at predict."""
    edges = ["0001-01-01T00:00:00+14:00", "0001-01-01T12:00:00Z", "9999-12-31T23:59:59.999999Z"]
    times = [*edges, "2026-01-01T00:00:00Z"]
    problems = problems_of([{"id": "a", "times": times, "values": [1.0] * 4}])
    assert {(p.rule, p.index) for p in problems} == {(Rule.TIME_OUT_OF_RANGE, i) for i in range(3)}
    assert "0001-01-02 to 9999-12-30" in problems[0].message
    limits = ["0001-01-02T00:00:00Z", "9999-12-30T00:00:00Z"]
    parse_dataset([{"id": "a", "times": limits, "values": [1.0, 2.0]}])


def test_the_number_of_listed_problems_is_bounded():
    raw = [{"id": f"s{i}", "times": [0.0, 0.0], "values": [1.0, 2.0]} for i in range(80)]
    with pytest.raises(SeriesValidationError) as caught:
        parse_dataset(raw)
    assert len(caught.value.problems) == MAX_PROBLEMS
    assert caught.value.more == 80 - MAX_PROBLEMS
    assert "more" in str(caught.value)


def test_no_series_is_an_error():
    (problem,) = problems_of([])
    assert problem.rule is Rule.EMPTY


def test_parse_times_for_predictions():
    np.testing.assert_array_equal(parse_times([3, 1.5], TimeKind.NUMERIC, "q"), [3.0, 1.5])
    with pytest.raises(SeriesValidationError) as caught:
        parse_times(["2026-01-01T00:00:00Z", 4.0], TimeKind.DATETIME, "q")
    assert caught.value.problems[0].index == 1


@pytest.mark.parametrize(
    "raw", [["not", "a", "mapping"], {"id": ["a"], "times": [0], "values": [1]}]
)
def test_malformed_series_are_problems_not_crashes(raw):
    (problem,) = problems_of([raw])
    assert problem.rule is Rule.BAD_ID and problem.series == "#0"
