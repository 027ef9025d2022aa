"""Where a :class:`~service.chart.Chart` goes in its image: the panels' boxes and the ticks.

Pixels count from the image's top-left corner. Margins are sized from the measured text (tick
labels, axis labels, title, legend) so that labels of any width fit; the panels share the
height left, one above the other, and the x axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .canvas import Box
from .chart import Chart
from .chart_ticks import Ticks, date_ticks, number_ticks

TextSize = Callable[[str, float], tuple[float, float, float]]
"""(text, font size in points) -> (width, height, descent) in pixels."""

TICK_PT = 10.0
LABEL_PT = 10.0
TITLE_PT = 11.0
LEGEND_PT = 8.0
NOTE_PT = 8.0
PAD_PT = 3.0
TICK_LENGTH_PT = 3.5
PANEL_GAP_PT = 8.0
MIN_TICKS, MAX_TICKS = 2, 10
LEGEND_HANDLE_EM, LEGEND_TEXT_PAD_EM, LEGEND_SPACING_EM = 2.0, 0.8, 2.0
"""A legend entry's handle width, the gap to its label and the gap to the next entry, in
multiples of the legend's font size."""


@dataclass(frozen=True)
class Layout:
    """The chart's geometry: one box per panel, the shared x ticks (drawn under the last
    panel), each panel's y ticks, the rows of the text around them (each a text's bottom), and
    a box for each legend entry's handle (its label follows it), in as many rows as the width
    needs."""

    panels: tuple[Box, ...]
    x_range: tuple[float, float]
    y_ranges: tuple[tuple[float, float], ...]
    x_ticks: Ticks
    y_ticks: tuple[Ticks, ...]
    title_bottom: float
    x_labels_bottom: float
    x_title_bottom: float
    legend_handles: tuple[Box, ...]
    legend_text_pad: float
    y_title_right: float
    tick_length: float
    pad: float

    def x_pixels(self, values: np.ndarray) -> np.ndarray:
        """Columns of x ``values`` (axis units), the same in every panel."""
        box, (low, high) = self.panels[0], self.x_range
        return box.left + (np.asarray(values, dtype=np.float64) - low) * (box.width / (high - low))

    def y_pixels(self, panel: int, values: np.ndarray) -> np.ndarray:
        """Rows of y ``values`` in panel ``panel``."""
        box, (low, high) = self.panels[panel], self.y_ranges[panel]
        scale = box.height / (high - low)
        return box.bottom - (np.asarray(values, dtype=np.float64) - low) * scale


def chart_layout(chart: Chart, text_size: TextSize) -> Layout:
    """Place ``chart`` in its ``width_px`` x ``height_px`` image."""
    px = chart.dpi / 72.0
    pad, tick_length = PAD_PT * px, TICK_LENGTH_PT * px
    tick_h = text_size("0", TICK_PT)[1]
    label_h = text_size("time", LABEL_PT)[1]
    title_bottom = pad + (text_size(chart.title, TITLE_PT)[1] if chart.title else 0.0)
    handles = _legend_handles(chart, text_size, pad)
    x_title_bottom = min(box.top for box in handles) - 2 * pad
    x_labels_bottom = x_title_bottom - label_h - 2 * pad
    boxes_bottom = x_labels_bottom - tick_h - pad - tick_length
    rows = _rows(title_bottom + 2 * pad, boxes_bottom, len(chart.panels), PANEL_GAP_PT * px)
    font_px = TICK_PT * px
    y_ticks = tuple(
        number_ticks(*panel.y_range, _most_ticks(bottom - top, 2 * font_px))
        for panel, (top, bottom) in zip(chart.panels, rows, strict=True)
    )
    widest = max((text_size(s, TICK_PT)[0] for t in y_ticks for s in t.labels), default=0.0)
    left = pad + label_h + pad + widest + pad + tick_length
    x_ticks = _x_ticks(chart, chart.width_px - left - 2 * pad, 3 * font_px)
    last_label = text_size(x_ticks.labels[-1], TICK_PT)[0] if x_ticks.labels else 0.0
    right = chart.width_px - max(2 * pad, last_label / 2 + pad)
    x_ticks = _x_ticks(chart, right - left, 3 * font_px)
    return Layout(
        panels=tuple(Box(left, top, right, bottom) for top, bottom in rows),
        x_range=chart.x_range,
        y_ranges=tuple(panel.y_range for panel in chart.panels),
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        title_bottom=title_bottom,
        x_labels_bottom=x_labels_bottom,
        x_title_bottom=x_title_bottom,
        legend_handles=handles,
        legend_text_pad=LEGEND_TEXT_PAD_EM * LEGEND_PT * px,
        y_title_right=pad + label_h,
        tick_length=tick_length,
        pad=pad,
    )


def _rows(top: float, bottom: float, count: int, gap: float) -> list[tuple[float, float]]:
    """``count`` equal bands of rows between ``top`` and ``bottom``, ``gap`` apart (each at
    least one pixel high, even if the image is too small for its text)."""
    height = max((bottom - top - gap * (count - 1)) / count, 1.0)
    return [(top + i * (height + gap), top + i * (height + gap) + height) for i in range(count)]


def _most_ticks(length_px: float, per_tick_px: float) -> int:
    return int(np.clip(length_px // per_tick_px, MIN_TICKS, MAX_TICKS))


def _x_ticks(chart: Chart, width_px: float, per_tick_px: float) -> Ticks:
    most = _most_ticks(width_px, per_tick_px)
    if chart.datetime_axis:
        return date_ticks(*chart.x_range, most)
    return number_ticks(*chart.x_range, most)


def _legend_handles(chart: Chart, text_size: TextSize, pad: float) -> tuple[Box, ...]:
    """Each legend entry's handle box: entries fill rows no wider than the image, each row
    centred, the last row ``pad`` above the image's bottom."""
    em = LEGEND_PT * chart.dpi / 72.0
    handle, text_pad = LEGEND_HANDLE_EM * em, LEGEND_TEXT_PAD_EM * em
    spacing = LEGEND_SPACING_EM * em
    widths = [handle + text_pad + text_size(s, LEGEND_PT)[0] for s in chart.legend_labels]
    rows: list[list[int]] = [[]]
    used = 0.0
    for index, width in enumerate(widths):
        if rows[-1] and used + spacing + width > chart.width_px - 2 * pad:
            rows.append([])
        used = width if not rows[-1] else used + spacing + width
        rows[-1].append(index)
    line = text_size("observations", LEGEND_PT)[1] * 1.3
    boxes: dict[int, Box] = {}
    for number, row in enumerate(rows):
        middle = chart.height_px - pad - line * (len(rows) - number - 0.5)
        left = (chart.width_px - sum(widths[i] for i in row) - spacing * (len(row) - 1)) / 2
        for index in row:
            boxes[index] = Box(left, middle - em / 2, left + handle, middle + em / 2)
            left += widths[index] + spacing
    return tuple(boxes[i] for i in range(len(widths)))
