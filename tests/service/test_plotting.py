"""The ``GET /predict.png`` chart: PNG size, determinism, the extrapolation boundary, dates,
validation and rendering from several threads at once."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pytest
from PIL import Image

from service.canvas import Canvas
from service.chart import Chart, build_chart
from service.chart_layout import Layout, chart_layout
from service.plotting import MARGIN_PX, MAX_PANELS, Band, chart_png, render_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = 400
HEIGHT_PER_DIM = 150


def make_inputs(
    dims: int = 2,
    *,
    n_times: int = 50,
    first: float = 1.0,
    last: float = 4.0,
    amplitude: float = 1.0,
) -> dict[str, Any]:
    """Observations on [1, 4], predictions on [0, 10] (unsorted), two bands."""
    rng = np.random.default_rng(1)
    observed_times = np.linspace(1.0, 4.0, 12)
    phase = np.arange(dims, dtype=np.float64)
    observed_values = amplitude * np.sin(observed_times[:, None] + phase)
    times = rng.permutation(np.linspace(0.0, 10.0, n_times))
    mean = amplitude * np.sin(times[:, None] + phase)
    spread = 0.1 + 0.05 * np.clip(times - last, 0.0, None)[:, None]
    bands = [
        Band("50%", mean - 0.67 * spread, mean + 0.67 * spread),
        Band("90%", mean - 1.64 * spread, mean + 1.64 * spread),
    ]
    return {
        "title": f"model m-12ab / series sensor-7 ({dims} dims)",
        "observed_times": observed_times,
        "observed_values": observed_values,
        "times": times,
        "mean": mean,
        "bands": bands,
        "first_observed": first,
        "last_observed": last,
        "width_px": WIDTH,
        "height_px_per_dim": HEIGHT_PER_DIM,
    }


def decode(png: bytes) -> np.ndarray:
    """The PNG as an [H, W, 3] uint8 array."""
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def expected_shape(dims: int, width: int = WIDTH, height_per_dim: int = HEIGHT_PER_DIM) -> tuple:
    return (MARGIN_PX + min(dims, MAX_PANELS) * height_per_dim, width, 3)


@pytest.mark.parametrize("dims", [1, 3])
def test_png_has_the_layout_size(dims: int) -> None:
    pixels = decode(render_png(**make_inputs(dims)))
    assert pixels.shape == expected_shape(dims)


def test_size_arguments_are_honoured() -> None:
    kwargs = make_inputs(1) | {"width_px": 333, "height_px_per_dim": 123, "dpi": 72}
    assert decode(render_png(**kwargs)).shape == expected_shape(1, 333, 123)


def test_more_dimensions_than_panels_draws_the_first_and_says_so() -> None:
    kwargs = make_inputs(MAX_PANELS + 2, n_times=10) | {"height_px_per_dim": 80}
    chart = build_chart(**kwargs)
    assert len(chart.panels) == MAX_PANELS
    assert f"first {MAX_PANELS} of {MAX_PANELS + 2} dimensions" in chart.title
    assert decode(chart_png(chart)).shape == expected_shape(MAX_PANELS + 2, WIDTH, 80)


def test_same_inputs_give_same_bytes_and_different_inputs_different_pixels() -> None:
    first = render_png(**make_inputs())
    again = render_png(**make_inputs())
    other = render_png(**make_inputs(amplitude=2.0))
    assert first == again
    assert not np.array_equal(decode(first), decode(other))


def layout_of(chart: Chart) -> Layout:
    return chart_layout(chart, Canvas(chart.width_px, chart.height_px, chart.dpi).text_size)


def _pixel_column(chart: Chart, x: float) -> tuple[int, slice]:
    """The image column of data x in the first panel, and the panel's rows (inside its frame)."""
    layout = layout_of(chart)
    column = int(layout.x_pixels(np.array([x]))[0])
    box = layout.panels[0]
    return column, slice(int(box.top) + 3, int(box.bottom) - 3)


def _dark_grey_rows(pixels: np.ndarray, column: int, rows: slice) -> float:
    """Share of the rows where columns ``column ± 1`` hold a dark grey (the dashed line) pixel."""
    strip = pixels[rows, column - 1 : column + 2].astype(int)
    grey = (strip.max(axis=2) - strip.min(axis=2) < 25) & (strip.max(axis=2) < 150)
    return float(grey.any(axis=1).mean())


def _modal_colour(pixels: np.ndarray, column: int, rows: slice) -> tuple[int, ...]:
    colours, counts = np.unique(pixels[rows, column], axis=0, return_counts=True)
    return tuple(int(c) for c in colours[np.argmax(counts)])


def test_extrapolation_boundary_and_shading_are_drawn() -> None:
    # Same x range in both renders: only where the last observation is drawn differs.
    kwargs = make_inputs(1, amplitude=0.2)
    at_four = build_chart(**kwargs)
    at_eight = build_chart(**(kwargs | {"last_observed": 8.0}))
    four_pixels, eight_pixels = decode(chart_png(at_four)), decode(chart_png(at_eight))

    column, rows = _pixel_column(at_four, 4.0)
    assert _pixel_column(at_eight, 4.0) == (column, rows)
    assert _dark_grey_rows(four_pixels, column, rows) > 0.5
    assert _dark_grey_rows(eight_pixels, column, rows) < 0.1

    white = (255, 255, 255)
    inside, _ = _pixel_column(at_four, 2.7)
    after, _ = _pixel_column(at_four, 6.3)
    before, _ = _pixel_column(at_four, 0.3)
    assert _modal_colour(four_pixels, inside, rows) == white
    shade = _modal_colour(four_pixels, after, rows)
    assert shade != white and max(shade) - min(shade) < 5 and min(shade) > 180
    assert _modal_colour(four_pixels, before, rows) == shade
    assert _modal_colour(eight_pixels, after, rows) == white


def test_bands_are_drawn_widest_first_and_lighter() -> None:
    chart = build_chart(**make_inputs(1))
    widest, narrowest = chart.panels[0].bands
    assert (widest.label, narrowest.label) == ("90%", "50%")
    assert widest.alpha < narrowest.alpha
    assert np.all(widest.upper - widest.lower > narrowest.upper - narrowest.lower)
    assert [label for label, _ in chart.band_styles] == ["90%", "50%"]
    # Both are drawn: a column in the forecast shows the band's two blues around the mean.
    pixels = decode(chart_png(chart))
    column, rows = _pixel_column(chart, 9.0)
    blues = {tuple(p) for p in pixels[rows, column].astype(int) if p[2] > p[0] + 40}
    assert len(blues) >= 2


def test_datetime_axis_shows_utc_dates() -> None:
    start = 1709251200.0  # 2024-03-01T00:00:00Z
    kwargs = make_inputs(1, n_times=30)
    hours = 3600.0
    kwargs |= {
        "observed_times": start + kwargs["observed_times"] * hours,
        "times": start + kwargs["times"] * hours,
        "first_observed": start + 1.0 * hours,
        "last_observed": start + 4.0 * hours,
        "datetime_axis": True,
    }
    chart = build_chart(**kwargs)
    pixels = decode(chart_png(chart))
    assert pixels.shape == expected_shape(1)
    ticks = layout_of(chart).x_ticks
    assert "02:00" in ticks.labels and "Mar-01" in ticks.labels
    assert "2024" in ticks.offset
    last = datetime.fromtimestamp(start + 4.0 * hours, UTC)
    column, rows = _pixel_column(chart, float(mdates.date2num(last)))
    assert _dark_grey_rows(pixels, column, rows) > 0.5


def test_single_time_nan_observations_and_no_bands() -> None:
    kwargs = make_inputs(2)
    values = kwargs["observed_values"].copy()
    values[::3, 0] = np.nan
    values[:, 1] = np.nan
    single = {
        "times": np.array([7.0]),
        "mean": np.array([[0.5, -0.5]]),
        "bands": [Band("80%", np.array([[0.0, -1.0]]), np.array([[1.0, 0.0]]))],
    }
    chart = build_chart(**(kwargs | single | {"observed_values": values}))
    assert decode(chart_png(chart)).shape == expected_shape(2)
    assert [panel.note for panel in chart.panels] == ["", "no observations"]

    no_bands = render_png(**(kwargs | {"bands": []}))
    assert decode(no_bands).shape == expected_shape(2)

    nothing_observed = {
        "observed_times": np.empty(0),
        "observed_values": np.empty((0, 2)),
        "first_observed": 0.0,
        "last_observed": 0.0,
    }
    assert decode(render_png(**(kwargs | nothing_observed))).shape == expected_shape(2)


def _bad(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda kwargs: kwargs | changes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda k: k | {"mean": k["mean"][:-1]}, "mean has shape"),
        (lambda k: k | {"mean": k["mean"][:, :1]}, "mean has shape"),
        (lambda k: k | {"observed_values": k["observed_values"][:-1]}, "rows"),
        (lambda k: k | {"observed_values": k["observed_values"][:, 0]}, "observed_values must"),
        (lambda k: k | {"times": k["times"][:, None]}, "times must be 1-D"),
        (lambda k: k | {"times": np.empty(0), "mean": np.empty((0, 2))}, "at least one"),
        (
            lambda k: k | {"bands": [Band("x", k["mean"], k["mean"][:, :1])]},
            r"bands\[0\]\.upper",
        ),
        (_bad(first_observed=5.0, last_observed=4.0), "after"),
        (_bad(last_observed=float("nan")), "finite"),
        (_bad(width_px=10), "width_px"),
    ],
)
def test_invalid_inputs_raise_value_error(
    change: Callable[[dict[str, Any]], dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_png(**change(make_inputs(2)))


def test_concurrent_renders_match_sequential_ones() -> None:
    inputs = [make_inputs(1, n_times=20), make_inputs(2, n_times=20, amplitude=2.0)]
    expected = [render_png(**kwargs) for kwargs in inputs]
    assert expected[0] != expected[1]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: render_png(**inputs[i % 2]), range(8)))
    for i, png in enumerate(results):
        assert png == expected[i % 2], f"render {i} differs from the sequential one"
