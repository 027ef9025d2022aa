"""The chart behind ``GET /predict.png``: observations, predicted mean and uncertainty bands.

It holds :func:`build_figure` (the matplotlib figure) and :func:`render_png` (that figure as PNG
bytes); what it accepts, :class:`Band` and the limits, is checked in `service.plot_inputs`.

Layout: one panel per dimension (at most :data:`MAX_PANELS`; the title says when more were
left out) sharing the x axis, the title above them and a single legend below. The
image is exactly ``width_px`` by ``MARGIN_PX + panels * height_px_per_dim`` pixels. The
extrapolation regions, before the first and after the last observation, have a grey
background, and a dashed vertical line marks the last observation.

Thread safety: the module draws on its own :class:`~matplotlib.figure.Figure` with a
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`; it never touches pyplot, the
global backend or ``rcParams``, so several threads may render at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC
from typing import NotRequired, TypedDict, Unpack

import matplotlib.dates as mdates
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .plot_inputs import (
    Band,
    validate_size,
    validated_arrays,
    validated_boundary,
)

MAX_PANELS = 8
"""Most dimensions drawn; the rest are left out and the title says so."""

MARGIN_PX = 64
"""Pixels added to the panels' total height for the title (above) and the legend (below)."""

MAX_TITLE_CHARS = 200

OBSERVATION_COLOR = "#222222"
MEAN_COLOR = "#1f77b4"
BAND_COLOR = "#1f77b4"
BOUNDARY_COLOR = "#555555"
EXTRAPOLATION_COLOR = "#e6e6e6"
BACKGROUND_COLOR = "#ffffff"
NARROWEST_BAND_ALPHA = 0.40
WIDEST_BAND_ALPHA = 0.15
X_MARGIN = 0.02
"""Padding on each side of the x range, as a fraction of it."""

PNG_COMPRESSION = 3
"""zlib level of the PNG (0-9): 3 is as small as matplotlib's default 6 here, and faster."""


class PlotArguments(TypedDict):
    """What :func:`build_figure` takes, for :func:`render_png`'s signature."""

    title: str
    observed_times: np.ndarray
    observed_values: np.ndarray
    times: np.ndarray
    mean: np.ndarray
    bands: Sequence[Band]
    first_observed: float
    last_observed: float
    datetime_axis: NotRequired[bool]
    width_px: NotRequired[int]
    height_px_per_dim: NotRequired[int]
    dpi: NotRequired[int]


def render_png(**arguments: Unpack[PlotArguments]) -> bytes:
    """Draw the prediction and return it as PNG bytes; see :func:`build_figure`."""
    return figure_png(build_figure(**arguments))


def figure_png(figure: Figure) -> bytes:
    """``figure`` as PNG bytes at its own dpi, without metadata (the bytes are reproducible).

    Encoded as RGB (the background is opaque) at zlib level ``PNG_COMPRESSION``, which takes 91
    ms for two panels where matplotlib's own RGBA at level 6 took 112 (153 against 155 KB):
    charts took about half the API's CPU in ``bench/load.py``.
    """
    from PIL import Image

    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = Image.fromarray(np.asarray(canvas.buffer_rgba()), "RGBA")  # the renderer's pixels
    buffer = io.BytesIO()
    dpi = (figure.dpi, figure.dpi)
    rgba.convert("RGB").save(buffer, format="PNG", compress_level=PNG_COMPRESSION, dpi=dpi)
    return buffer.getvalue()


def build_figure(
    *,
    title: str,
    observed_times: np.ndarray,
    observed_values: np.ndarray,
    times: np.ndarray,
    mean: np.ndarray,
    bands: Sequence[Band],
    first_observed: float,
    last_observed: float,
    datetime_axis: bool = False,
    width_px: int = 900,
    height_px_per_dim: int = 260,
    dpi: int = 100,
) -> Figure:
    """The prediction drawn on a figure with an Agg canvas attached (see the module docstring).

    ``observed_times`` is ``[N]`` (sorted), ``observed_values`` ``[N, D]`` with NaN where not
    observed, ``times`` ``[T]`` in any order, ``mean`` and each band's bounds ``[T, D]``. With
    ``datetime_axis`` the x values are POSIX seconds, shown as UTC dates. Raises ValueError when
    the shapes disagree or a size is out of range.
    """
    obs_t, obs_v, pred_t, pred_mean, pred_bands = validated_arrays(
        observed_times, observed_values, times, mean, bands
    )
    first, last = validated_boundary(first_observed, last_observed)
    validate_size(width_px, height_px_per_dim, dpi)

    order = np.argsort(pred_t, kind="stable")
    pred_t, pred_mean = pred_t[order], pred_mean[order]
    pred_bands = [Band(b.label, b.lower[order], b.upper[order]) for b in pred_bands]

    dims = obs_v.shape[1]
    panels = min(dims, MAX_PANELS)
    figure = _new_figure(width_px, MARGIN_PX + panels * height_px_per_dim, dpi)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]

    ordered_bands = _widest_first(pred_bands)
    band_styles = [
        (b.label, _band_alpha(rank, len(ordered_bands))) for rank, b in enumerate(ordered_bands)
    ]
    to_x = _to_datenum if datetime_axis else _identity
    xlim = _x_limits(to_x(np.concatenate([obs_t, pred_t, [first, last]])))
    for dim, ax in enumerate(axes):
        _draw_panel(
            ax,
            dim=dim,
            obs_x=to_x(obs_t),
            obs_y=obs_v[:, dim],
            x=to_x(pred_t),
            mean=pred_mean[:, dim],
            bands=[
                (b.lower[:, dim], b.upper[:, dim], alpha)
                for b, (_, alpha) in zip(ordered_bands, band_styles, strict=True)
            ],
            first_x=float(to_x(np.array([first]))[0]),
            last_x=float(to_x(np.array([last]))[0]),
            xlim=xlim,
        )
    _format_x_axis(axes[-1], datetime_axis)
    _add_header(figure, _title_text(title, dims), band_styles)
    return figure


# --- drawing ----------------------------------------------------------------------------------


def _new_figure(width_px: int, height_px: int, dpi: int) -> Figure:
    figure = Figure(
        figsize=(width_px / dpi, height_px / dpi),
        dpi=dpi,
        facecolor=BACKGROUND_COLOR,
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    return figure


def _draw_panel(
    ax: Axes,
    *,
    dim: int,
    obs_x: np.ndarray,
    obs_y: np.ndarray,
    x: np.ndarray,
    mean: np.ndarray,
    bands: Sequence[tuple[np.ndarray, np.ndarray, float]],
    first_x: float,
    last_x: float,
    xlim: tuple[float, float],
) -> None:
    """One dimension: extrapolation shading, bands, mean, observations, boundary line."""
    ax.set_facecolor(BACKGROUND_COLOR)
    ax.set_xlim(*xlim)
    _shade_extrapolation(ax, first_x, last_x, xlim)
    for lower, upper, alpha in bands:
        _draw_band(ax, x, lower, upper, alpha=alpha)
    _draw_mean(ax, x, mean)
    seen = ~np.isnan(obs_y)
    ax.plot(
        obs_x[seen],
        obs_y[seen],
        linestyle="none",
        marker="o",
        markersize=4,
        color=OBSERVATION_COLOR,
        zorder=4,
    )
    ax.axvline(last_x, color=BOUNDARY_COLOR, linestyle="--", linewidth=1.2, zorder=5)
    ax.set_ylabel(f"dim {dim}")
    ax.grid(True, color="#cccccc", linewidth=0.5, alpha=0.7)
    if not seen.any():
        _note(ax, "no observations")


def _shade_extrapolation(
    ax: Axes, first_x: float, last_x: float, xlim: tuple[float, float]
) -> None:
    left, right = xlim
    if first_x > left:
        ax.axvspan(left, first_x, color=EXTRAPOLATION_COLOR, linewidth=0, zorder=0)
    if last_x < right:
        ax.axvspan(last_x, right, color=EXTRAPOLATION_COLOR, linewidth=0, zorder=0)


def _draw_band(
    ax: Axes, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, *, alpha: float
) -> None:
    if x.shape[0] == 1:
        ax.vlines(x, lower, upper, color=BAND_COLOR, alpha=alpha, linewidth=8, zorder=2)
        return
    ax.fill_between(x, lower, upper, color=BAND_COLOR, alpha=alpha, linewidth=0, zorder=2)


def _draw_mean(ax: Axes, x: np.ndarray, mean: np.ndarray) -> None:
    marker = "D" if x.shape[0] == 1 else None
    ax.plot(x, mean, color=MEAN_COLOR, linewidth=1.8, marker=marker, zorder=3)


def _note(ax: Axes, text: str) -> None:
    ax.text(
        0.01,
        0.95,
        text,
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=8,
        color="#777777",
        parse_math=False,
    )


def _widest_first(bands: Sequence[Band]) -> list[Band]:
    """The bands sorted by mean width, widest first (stable for ties)."""
    return sorted(bands, key=_band_width, reverse=True)


def _band_width(band: Band) -> float:
    width = np.abs(band.upper - band.lower)
    finite = width[np.isfinite(width)]
    return float(finite.mean()) if finite.size else 0.0


def _band_alpha(rank: int, count: int) -> float:
    """Opacity of the ``rank``-th widest of ``count`` bands: the widest is the lightest."""
    if count <= 1:
        return NARROWEST_BAND_ALPHA
    step = (NARROWEST_BAND_ALPHA - WIDEST_BAND_ALPHA) / (count - 1)
    return WIDEST_BAND_ALPHA + rank * step


def _x_limits(xs: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(xs)), float(np.max(xs))
    span = high - low
    pad = span * X_MARGIN if span > 0 else max(abs(low) * 1e-6, 1.0)
    return low - pad, high + pad


def _identity(values: np.ndarray) -> np.ndarray:
    return values


def _to_datenum(posix_seconds: np.ndarray) -> np.ndarray:
    """POSIX seconds as matplotlib date numbers (whatever its date epoch is set to)."""
    micros = np.round(np.asarray(posix_seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return np.asarray(mdates.date2num(micros.astype("datetime64[us]")), dtype=np.float64)


def _format_x_axis(ax: Axes, datetime_axis: bool) -> None:
    if not datetime_axis:
        ax.set_xlabel("time")
        return
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)")


def _title_text(title: str, dims: int) -> str:
    text = title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"
    if dims > MAX_PANELS:
        text += f"  (first {MAX_PANELS} of {dims} dimensions shown)"
    return text


def _add_header(figure: Figure, title: str, band_styles: Sequence[tuple[str, float]]) -> None:
    """The title above the panels and one legend for all of them below."""
    figure.suptitle(title, fontsize=11, parse_math=False)
    handles, labels = _legend_entries(band_styles)
    legend = figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=len(handles),
        fontsize=8,
        frameon=False,
    )
    for text in legend.get_texts():
        text.set_parse_math(False)


def _legend_entries(band_styles: Sequence[tuple[str, float]]) -> tuple[list[Artist], list[str]]:
    """Legend handles for what each panel draws; band_styles is (label, alpha), widest first."""
    handles: list[Artist] = [
        Line2D([], [], linestyle="none", marker="o", markersize=4, color=OBSERVATION_COLOR),
        Line2D([], [], color=MEAN_COLOR, linewidth=1.8),
    ]
    labels = ["observations", "mean"]
    for label, alpha in band_styles:
        handles.append(Patch(facecolor=BAND_COLOR, alpha=alpha, linewidth=0))
        labels.append(label)
    handles += [
        Line2D([], [], color=BOUNDARY_COLOR, linestyle="--", linewidth=1.2),
        Patch(facecolor=EXTRAPOLATION_COLOR, edgecolor="#bbbbbb", linewidth=0.5),
    ]
    labels += ["last observation", "extrapolation"]
    return handles, labels
