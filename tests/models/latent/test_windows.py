"""Windows: which data sets are windowed, training windows, prediction contexts, durations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.latent.windows import (
    EXTRAPOLATION_CONTEXT,
    FEW_SERIES,
    MIN_OBSERVATIONS,
    WINDOW_POINTS,
    WINDOW_SEASONS,
    check_window,
    duration_seconds,
    plan_windows,
    prediction_groups,
    training_windows,
    window_in_data_units,
)
from models.series import Dataset, Series, TimeKind
from models.synthetic import FAMILIES


def long_series(n: int = 2000, *, gap: tuple[float, float] = (30.0, 36.0), seed: int = 0) -> Series:
    """Noise around a line at irregular times on [0, 100] with no observation inside ``gap``."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, 100.0, n))
    times = times[(times < gap[0]) | (times > gap[1])]
    values = 0.1 * times + rng.standard_normal(len(times))
    return Series("long", times, values[:, None])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_families_of_short_series_are_not_windowed(family):
    assert plan_windows(FAMILIES[family](20, seed=0)).length is None


def test_a_long_series_without_a_season_gets_a_window_of_about_100_spacings():
    series = long_series()
    plan = plan_windows(Dataset((series,), TimeKind.NUMERIC))
    spacing = np.median(np.diff(series.times))
    assert plan.season is None
    assert plan.length == pytest.approx(WINDOW_POINTS * spacing)


def monthly(n_series: int, n: int = 132, *, season: bool = True) -> Dataset:
    """``n_series`` monthly series of ``n`` points (a yearly season of 12, or none)."""
    rng = np.random.default_rng(0)
    times = np.arange(float(n))
    series = []
    for i in range(n_series):
        wave = 3 * np.sin(2 * np.pi * times / 12 + rng.uniform(0, 6)) if season else 0.0
        values = 0.05 * times + wave + rng.standard_normal(n)
        series.append(Series(f"s{i}", times, values[:, None]))
    return Dataset(tuple(series), TimeKind.NUMERIC)


def test_a_few_seasonal_series_of_a_decade_are_windowed_by_seasons():
    plan = plan_windows(monthly(1))
    assert plan.season == pytest.approx(12, rel=0.02)
    assert plan.length == pytest.approx(WINDOW_SEASONS * plan.season)
    assert plan_windows(monthly(FEW_SERIES)).length == plan.length


@pytest.mark.parametrize(
    "data",
    [
        monthly(FEW_SERIES + 1),  # a family: its series are the training examples
        monthly(1, season=False),  # no season to size a window by
        monthly(1, n=80),  # 80 < 3 windows of 2.5 seasons: too few windows
    ],
    ids=["many series", "no season", "few seasons"],
)
def test_short_series_stay_whole_otherwise(data):
    assert plan_windows(data).length is None


def test_an_override_is_kept_and_one_that_covers_every_series_turns_windows_off():
    data = Dataset((long_series(),), TimeKind.NUMERIC)
    assert plan_windows(data, 7.5).length == 7.5
    assert plan_windows(data, 90.0).length is None  # 100 < 1.5 x 90: one window


def test_training_windows_cover_a_long_series_and_skip_its_gap():
    series = long_series()
    length = 5.0
    covered = np.zeros(len(series), dtype=bool)
    for epoch in range(20):
        windows = training_windows(series, length, np.random.default_rng(epoch))
        assert len(windows) >= 30  # 2 per window length of a 100-unit span, less empty ones
        for window in windows:
            assert len(window) >= MIN_OBSERVATIONS
            assert window.times[-1] - window.times[0] <= length
            rows = np.searchsorted(series.times, window.times)
            np.testing.assert_array_equal(series.values[rows], window.values)
            covered[rows] = True
    assert covered.mean() > 0.98


def test_a_window_inside_a_gap_is_dropped():
    series = long_series(gap=(20.0, 60.0))
    windows = training_windows(series, 5.0, np.random.default_rng(0))
    assert all(not (w.times[0] > 20.0 and w.times[-1] < 60.0) for w in windows)


def test_a_short_series_is_one_window_in_training_and_prediction():
    series = long_series(100)
    assert training_windows(series, 90.0, np.random.default_rng(0)) == [series]
    assert training_windows(series, None, np.random.default_rng(0)) == [series]
    times = np.array([-5.0, 50.0, 120.0])
    (group,) = prediction_groups(series, times, None)
    assert group.context is series
    np.testing.assert_array_equal(group.positions, [0, 1, 2])


def test_every_requested_time_is_answered_once_from_the_window_around_it():
    series = long_series()
    length = 5.0
    rng = np.random.default_rng(1)
    times = np.concatenate([rng.uniform(0.0, 100.0, 300), [103.0, 150.0, -4.0]])
    groups = prediction_groups(series, times, length)
    answered = np.sort(np.concatenate([g.positions for g in groups]))
    np.testing.assert_array_equal(answered, np.arange(len(times)))
    assert len(groups) <= 100 / (length / 4) + 3, "nearby times must share a context"
    last, first = series.times[-1], series.times[0]
    for group in groups:
        asked = times[group.positions]
        context = group.context.times
        assert len(context) >= MIN_OBSERVATIONS
        if ((asked > 30.0) & (asked < 36.0)).any():  # the gap: read what is around it
            assert context[0] >= asked.min() - 2 * length
            assert context[-1] <= asked.max() + 2 * length
            continue
        assert context[-1] - context[0] <= length
        if (asked > last).all():  # extrapolation reads the end of the series
            assert context[-1] == last
            assert context[0] >= last - EXTRAPOLATION_CONTEXT * length
        elif (asked < first).all():
            assert context[0] == first
        else:
            assert ((asked >= first) & (asked <= last)).all()
            assert (asked >= context[0] - length / 2).all() and (asked <= context[0] + length).all()


def test_iso_durations_and_numbers_as_windows():
    assert duration_seconds("P2W") == 14 * 86_400
    assert duration_seconds("P1DT12H") == 1.5 * 86_400
    assert duration_seconds("PT90M") == 5_400
    assert duration_seconds("P1Y") == 365.25 * 86_400
    assert window_in_data_units("P3D", TimeKind.DATETIME) == 3 * 86_400
    assert window_in_data_units(12, TimeKind.NUMERIC) == 12.0
    for bad in ("3 days", "P", "PT0S", "1Y"):
        with pytest.raises(ValueError):
            duration_seconds(bad)
    with pytest.raises(ValueError, match="datetime"):
        window_in_data_units("P3D", TimeKind.NUMERIC)
    with pytest.raises(ValueError, match="positive"):
        window_in_data_units(-1.0, TimeKind.NUMERIC)
    for endless in (10**400, math.inf, "P" + "9" * 400 + "Y"):
        with pytest.raises(ValueError, match="too long"):
            window_in_data_units(endless, TimeKind.DATETIME)


def test_a_window_holds_at_least_a_few_typical_spacings():
    times = np.arange(0.0, 50.0, 0.5)  # spacing 0.5
    dataset = Dataset((Series("s", times, np.sin(times)[:, None]),), TimeKind.NUMERIC)
    check_window(MIN_OBSERVATIONS * 0.5, dataset)
    with pytest.raises(ValueError, match=r"give at least 4\b"):
        check_window(1e-5, dataset)


def test_a_season_of_the_latest_part_sets_windows_but_carries_no_base():
    from models.latent.normaliser import Normaliser
    from models.synthetic import drifting_oscillator, trend_season

    drifting = Normaliser.fit(drifting_oscillator(0))
    # its frequency drifts to exactly 1 at the end: the latest quarter's average is 0.974
    assert drifting.season == pytest.approx(1.0, abs=0.01) and drifting.windowed
    assert not drifting.base
    assert Normaliser.fit(trend_season(0)).base
