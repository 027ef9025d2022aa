"""The PNG behind ``GET /predict.png``: a :class:`~service.chart.Chart` drawn straight onto
matplotlib's Agg rasteriser, placed by ``service.chart_layout``.

Layout: one panel per dimension (at most ``MAX_PANELS``; the title says when more were left
out) sharing the x axis, the title above them and a single legend below. The image is exactly
``width_px`` by ``MARGIN_PX + panels * height_px_per_dim`` pixels. The extrapolation regions,
before the first and after the last observation, have a grey background, and a dashed vertical
line marks the last observation.

Why not matplotlib's figures: a two-panel chart of 100 times took 88 ms there, most of it in the
Python of artists, ticks and the constrained layout; drawn here (``service.canvas``) with the same
rasteriser, fonts and antialiasing it takes 25-28 ms, 9 of them the PNG's encoding
(``bench/charts.py`` compares the two; ``bench/load.py`` times charts among its mix). Each call
draws on a canvas of its own and touches no global state, so several threads may render at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Unpack

import numpy as np
from matplotlib.path import Path

from .canvas import TEXT_COLOR, Box, Canvas
from .chart import MARGIN_PX, MAX_PANELS, Chart, Panel, PlotArguments, build_chart
from .chart_layout import (
    LABEL_PT,
    LEGEND_PT,
    NOTE_PT,
    TICK_PT,
    TITLE_PT,
    Layout,
    chart_layout,
)
from .plot_inputs import Band

__all__ = ["MARGIN_PX", "MAX_PANELS", "Band", "chart_png", "render_png"]

OBSERVATION_COLOR = "#222222"
MEAN_COLOR = "#1f77b4"
BAND_COLOR = "#1f77b4"
BOUNDARY_COLOR = "#555555"
EXTRAPOLATION_COLOR = "#e6e6e6"
EXTRAPOLATION_EDGE = "#bbbbbb"
GRID_COLOR = "#cccccc"
NOTE_COLOR = "#777777"
BACKGROUND_COLOR = "#ffffff"
FRAME_WIDTH_PT = 0.8
GRID_WIDTH_PT = 0.5
GRID_ALPHA = 0.7
MEAN_WIDTH_PT = 1.8
BOUNDARY_WIDTH_PT = 1.2
BOUNDARY_DASHES_PT = (4.44, 1.92)
OBSERVATION_SIZE_PT = 4.0
SINGLE_TIME_MARKER_PT = 6.0
SINGLE_TIME_BAND_PT = 8.0

DIAMOND = Path([(0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)], closed=True)


def render_png(**arguments: Unpack[PlotArguments]) -> bytes:
    """Draw the prediction and return it as PNG bytes; see ``service.chart.build_chart``."""
    return chart_png(build_chart(**arguments))


def chart_png(chart: Chart) -> bytes:
    """``chart`` as PNG bytes at its dpi, without metadata (the bytes are reproducible)."""
    canvas = Canvas(chart.width_px, chart.height_px, chart.dpi)
    layout = chart_layout(chart, canvas.text_size)
    canvas.fill(Box(0, 0, chart.width_px, chart.height_px), BACKGROUND_COLOR)
    for index, panel in enumerate(chart.panels):
        _draw_panel(canvas, chart, layout, index, panel)
    _draw_x_axis(canvas, chart, layout)
    if chart.title:
        canvas.text(chart.width_px / 2, layout.title_bottom, chart.title, TITLE_PT, "center")
    _draw_legend(canvas, chart, layout)
    return canvas.png()


def _draw_panel(canvas: Canvas, chart: Chart, layout: Layout, index: int, panel: Panel) -> None:
    """Shading, grid, bands, mean, observations, boundary, frame, ticks and labels of one
    panel."""
    box = layout.panels[index]
    _shade_extrapolation(canvas, chart, layout, box)
    _draw_grid(canvas, layout, index, box)
    _draw_prediction(canvas, layout, index, panel)
    observed_x = layout.x_pixels(panel.observed_x)
    observed_y = layout.y_pixels(index, panel.observed_y)
    canvas.markers(observed_x, observed_y, OBSERVATION_COLOR, OBSERVATION_SIZE_PT, clip=box)
    boundary = float(layout.x_pixels(np.array([chart.last_x]))[0])
    dashes = BOUNDARY_DASHES_PT
    canvas.vertical(
        boundary, box.top, box.bottom, BOUNDARY_COLOR, BOUNDARY_WIDTH_PT, dashes=dashes, clip=box
    )
    _draw_frame_and_y_axis(canvas, layout, index, box)
    middle = (box.top + box.bottom) / 2
    canvas.text(layout.y_title_right, middle, panel.label, LABEL_PT, vertical=True)
    if panel.note:
        bottom = box.top + 0.05 * box.height + canvas.text_size(panel.note, NOTE_PT)[1]
        left = box.left + 0.01 * box.width
        canvas.text(left, bottom, panel.note, NOTE_PT, color=NOTE_COLOR)


def _draw_prediction(canvas: Canvas, layout: Layout, index: int, panel: Panel) -> None:
    """The bands, widest first, then the mean; a single predicted time as a bar and a
    diamond."""
    box = layout.panels[index]
    x = layout.x_pixels(panel.x)
    mean = layout.y_pixels(index, panel.mean)
    for band in panel.bands:
        lower, upper = layout.y_pixels(index, band.lower), layout.y_pixels(index, band.upper)
        if len(x) == 1:
            canvas.vertical(
                x[0],
                upper[0],
                lower[0],
                BAND_COLOR,
                SINGLE_TIME_BAND_PT,
                alpha=band.alpha,
                clip=box,
            )
            continue
        for run in _finite_runs(x, lower, upper):
            xs = np.concatenate([x[run], x[run][::-1]])
            ys = np.concatenate([upper[run], lower[run][::-1]])
            canvas.polygon(xs, ys, BAND_COLOR, alpha=band.alpha, clip=box)
    if len(x) == 1:
        canvas.markers(x, mean, MEAN_COLOR, SINGLE_TIME_MARKER_PT, shape=DIAMOND, clip=box)
    for run in _finite_runs(x, mean):
        canvas.line(x[run], mean[run], MEAN_COLOR, MEAN_WIDTH_PT, clip=box)


def _shade_extrapolation(canvas: Canvas, chart: Chart, layout: Layout, box: Box) -> None:
    first, last = (float(v) for v in layout.x_pixels(np.array([chart.first_x, chart.last_x])))
    if first > box.left:
        canvas.fill(Box(box.left, box.top, first, box.bottom), EXTRAPOLATION_COLOR, clip=box)
    if last < box.right:
        canvas.fill(Box(last, box.top, box.right, box.bottom), EXTRAPOLATION_COLOR, clip=box)


def _draw_grid(canvas: Canvas, layout: Layout, index: int, box: Box) -> None:
    style = {"alpha": GRID_ALPHA, "clip": box}
    for column in layout.x_pixels(layout.x_ticks.values):
        canvas.vertical(column, box.top, box.bottom, GRID_COLOR, GRID_WIDTH_PT, **style)
    for row in layout.y_pixels(index, layout.y_ticks[index].values):
        canvas.horizontal(row, box.left, box.right, GRID_COLOR, GRID_WIDTH_PT, **style)


def _draw_frame_and_y_axis(canvas: Canvas, layout: Layout, index: int, box: Box) -> None:
    corners_x = [box.left, box.right, box.right, box.left, box.left]
    corners_y = [box.top, box.top, box.bottom, box.bottom, box.top]
    canvas.line(corners_x, corners_y, TEXT_COLOR, FRAME_WIDTH_PT)
    ticks = layout.y_ticks[index]
    for row, label in zip(layout.y_pixels(index, ticks.values), ticks.labels, strict=True):
        tick_left = box.left - layout.tick_length
        canvas.horizontal(row, tick_left, box.left, TEXT_COLOR, FRAME_WIDTH_PT)
        bottom = row + canvas.text_size(label, TICK_PT)[1] / 2
        canvas.text(tick_left - layout.pad, bottom, label, TICK_PT, "right")
    tick_bottom = box.bottom + layout.tick_length
    for column in layout.x_pixels(layout.x_ticks.values):
        canvas.vertical(column, box.bottom, tick_bottom, TEXT_COLOR, FRAME_WIDTH_PT)


def _draw_x_axis(canvas: Canvas, chart: Chart, layout: Layout) -> None:
    """Tick labels under the last panel, the axis title, and a date axis' offset."""
    box = layout.panels[-1]
    ticks = layout.x_ticks
    for column, label in zip(layout.x_pixels(ticks.values), ticks.labels, strict=True):
        canvas.text(float(column), layout.x_labels_bottom, label, TICK_PT, "center")
    middle = (box.left + box.right) / 2
    canvas.text(middle, layout.x_title_bottom, chart.x_label, LABEL_PT, "center")
    if ticks.offset:
        canvas.text(box.right, layout.x_title_bottom, ticks.offset, TICK_PT, "right")


def _draw_legend(canvas: Canvas, chart: Chart, layout: Layout) -> None:
    """Each entry's handle in its box, its label after it."""
    text_h = canvas.text_size("observations", LEGEND_PT)[1]
    drawers = _handle_drawers(chart)
    for label, draw, box in zip(chart.legend_labels, drawers, layout.legend_handles, strict=True):
        draw(canvas, box)
        middle = (box.top + box.bottom) / 2
        canvas.text(box.right + layout.legend_text_pad, middle + text_h / 2, label, LEGEND_PT)


HandleDrawer = Callable[[Canvas, Box], None]
"""Draws a legend entry's handle in a box."""


def _handle_drawers(chart: Chart) -> list[HandleDrawer]:
    """How to draw each handle of ``chart.legend_labels``, in its order."""

    def observations(canvas: Canvas, box: Box) -> None:
        middle_x, middle_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        canvas.markers([middle_x], [middle_y], OBSERVATION_COLOR, OBSERVATION_SIZE_PT)

    def mean(canvas: Canvas, box: Box) -> None:
        middle_y = (box.top + box.bottom) / 2
        canvas.horizontal(middle_y, box.left, box.right, MEAN_COLOR, MEAN_WIDTH_PT)

    def band(alpha: float) -> HandleDrawer:
        return lambda canvas, box: canvas.fill(box, BAND_COLOR, alpha=alpha)

    def boundary(canvas: Canvas, box: Box) -> None:
        middle_y = (box.top + box.bottom) / 2
        dashes = BOUNDARY_DASHES_PT
        canvas.horizontal(
            middle_y, box.left, box.right, BOUNDARY_COLOR, BOUNDARY_WIDTH_PT, dashes=dashes
        )

    def extrapolation(canvas: Canvas, box: Box) -> None:
        canvas.fill(box, EXTRAPOLATION_COLOR, edge=(EXTRAPOLATION_EDGE, 0.5))

    bands = [band(alpha) for _, alpha in chart.band_styles]
    return [observations, mean, *bands, boundary, extrapolation]


def _finite_runs(*arrays: np.ndarray) -> list[slice]:
    """Slices of the maximal runs (two points or more) where every array is finite."""
    finite = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(np.int8), [0]])))
    return [
        slice(start, stop)
        for start, stop in zip(edges[::2], edges[1::2], strict=True)
        if stop - start >= 2
    ]
