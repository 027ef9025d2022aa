"""Where the ``GET /predict.png`` chart's parts go: panels inside the image, margins that fit
the labels, data mapped into the panels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service.canvas import Canvas
from service.chart import Chart, build_chart
from service.chart_layout import LEGEND_PT, TICK_PT, Layout, chart_layout
from service.plotting import Band, chart_png


def inputs(scale: float = 1.0, dims: int = 2, **changes: Any) -> dict[str, Any]:
    times = np.linspace(0.0, 10.0, 30)
    mean = scale * np.column_stack([np.sin(times + d) for d in range(dims)])
    return {
        "title": "model m / series s",
        "observed_times": times[:20],
        "observed_values": mean[:20] + 0.1 * scale,
        "times": times,
        "mean": mean,
        "bands": [Band("80%", mean - 0.5 * scale, mean + 0.5 * scale)],
        "first_observed": 0.0,
        "last_observed": float(times[19]),
        "width_px": 600,
        "height_px_per_dim": 200,
    } | changes


def layout_and_canvas(**kwargs: Any) -> tuple[Chart, Layout, Canvas]:
    chart = build_chart(**kwargs)
    canvas = Canvas(chart.width_px, chart.height_px, chart.dpi)
    return chart, chart_layout(chart, canvas.text_size), canvas


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e5, 1e12])
def test_panels_stack_inside_the_image_and_the_y_labels_fit_left_of_them(scale: float) -> None:
    chart, layout, canvas = layout_and_canvas(**inputs(scale))
    tops = [box.top for box in layout.panels]
    assert tops == sorted(tops) and layout.title_bottom < tops[0]
    for above, below in zip(layout.panels, layout.panels[1:], strict=False):
        assert above.bottom < below.top
    last = layout.panels[-1]
    legend_top = min(box.top for box in layout.legend_handles)
    assert last.bottom < layout.x_labels_bottom < layout.x_title_bottom < legend_top
    assert 0 < last.left < last.right < chart.width_px
    for ticks in layout.y_ticks:
        assert len(ticks.labels) >= 2
        widest = max(canvas.text_size(label, TICK_PT)[0] for label in ticks.labels)
        assert widest + layout.tick_length + layout.pad <= last.left - layout.y_title_right


def test_data_map_into_the_panels() -> None:
    chart, layout, _ = layout_and_canvas(**inputs())
    box = layout.panels[1]
    low, high = chart.panels[1].y_range
    rows = layout.y_pixels(1, np.array([low, high]))
    np.testing.assert_allclose(rows, [box.bottom, box.top])
    np.testing.assert_allclose(layout.x_pixels(np.array(chart.x_range)), [box.left, box.right])
    observed = chart.panels[1].observed_y
    assert low < observed.min() and observed.max() < high


@pytest.mark.parametrize(
    "values",
    [np.nan, np.inf, 1e300],
    ids=["nan", "inf", "huge"],
)
def test_unplottable_values_still_render(values: float) -> None:
    kwargs = inputs()
    mean = kwargs["mean"].copy()
    mean[5:9, 0] = values
    upper = kwargs["bands"][0].upper.copy()
    upper[::4, 1] = values
    kwargs |= {"mean": mean, "bands": [Band("80%", kwargs["bands"][0].lower, upper)]}
    png = chart_png(build_chart(**kwargs))
    assert png.startswith(b"\x89PNG")


def test_times_and_values_at_the_ends_of_float64_still_render() -> None:
    edge = np.finfo(np.float64).max
    kwargs = inputs(dims=1)
    times = kwargs["times"].copy()
    times[[0, -1]] = -edge, edge
    mean = kwargs["mean"].copy()
    mean[3, 0] = edge
    png = chart_png(build_chart(**(kwargs | {"times": times, "mean": mean})))
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize("width", [200, 400, 900])
def test_the_legend_wraps_to_stay_inside_the_image(width: int) -> None:
    chart, layout, canvas = layout_and_canvas(**inputs(width_px=width))
    assert len(layout.legend_handles) == len(chart.legend_labels) == 5
    rows = sorted({round(box.top, 3) for box in layout.legend_handles})
    assert (len(rows) > 1) == (width < 900), rows
    assert layout.x_title_bottom < rows[0] and max(b.bottom for b in layout.legend_handles) < (
        chart.height_px
    )
    for box, label in zip(layout.legend_handles, chart.legend_labels, strict=True):
        label_width = canvas.text_size(label, LEGEND_PT)[0]
        assert box.left >= 0 and box.right + layout.legend_text_pad + label_width <= width
