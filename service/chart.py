"""What ``GET /predict.png``'s chart shows, in the data's units: :func:`build_chart` turns the
prediction into a :class:`Chart` (one panel per dimension, its bands widest first, the y range
each panel needs). ``service.chart_layout`` places it in pixels; ``service.plotting`` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import matplotlib.dates as mdates
import numpy as np

from .plot_inputs import Band, validate_size, validated_arrays, validated_boundary

MAX_PANELS = 8
"""Most dimensions drawn; the rest are left out and the title says so."""

MARGIN_PX = 64
"""Pixels added to the panels' total height for the title (above) and the legend (below)."""
MAX_TITLE_CHARS = 200
NARROWEST_BAND_ALPHA = 0.40
WIDEST_BAND_ALPHA = 0.15
X_MARGIN = 0.02
"""Padding on each side of the x range, as a fraction of it."""
Y_MARGIN = 0.05
"""Padding above and below what a panel draws, as a fraction of its range."""
PLOTTED_LIMIT = 1e300
"""Values beyond it are drawn at it (so that an axis' span stays finite); infinities are not
drawn."""


class PlotArguments(TypedDict):
    """What :func:`build_chart` takes (and ``service.plotting.render_png``)."""

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


@dataclass(frozen=True)
class BandLayer:
    """One band of one panel: ``lower`` and ``upper`` are ``[T]``; ``alpha`` its opacity."""

    label: str
    lower: np.ndarray
    upper: np.ndarray
    alpha: float


@dataclass(frozen=True)
class Panel:
    """One dimension. x values are in axis units (see :class:`Chart`), sorted for the predicted
    ``x`` ``[T]``; ``observed_x`` / ``observed_y`` ``[N]`` hold only this dimension's observed
    rows; ``bands`` are widest first (drawn first, lightest)."""

    label: str
    observed_x: np.ndarray
    observed_y: np.ndarray
    x: np.ndarray
    mean: np.ndarray
    bands: tuple[BandLayer, ...]
    y_range: tuple[float, float]

    @property
    def note(self) -> str:
        return "" if self.observed_x.size else "no observations"


@dataclass(frozen=True)
class Chart:
    """The whole chart. Axis units are the data's times, or matplotlib date numbers (days) when
    ``datetime_axis`` (the data's POSIX seconds, shown as UTC dates). ``first_x`` / ``last_x``
    bound the observed span: outside it the panels are shaded, and a dashed line marks
    ``last_x``. The image is ``width_px`` x ``height_px`` at ``dpi``."""

    title: str
    panels: tuple[Panel, ...]
    x_range: tuple[float, float]
    first_x: float
    last_x: float
    datetime_axis: bool
    width_px: int
    height_px: int
    dpi: int

    @property
    def band_styles(self) -> tuple[tuple[str, float], ...]:
        """(label, alpha) of each band, widest first, for the legend."""
        first = self.panels[0].bands
        return tuple((band.label, band.alpha) for band in first)

    @property
    def legend_labels(self) -> tuple[str, ...]:
        """The legend's entries, in order: what every panel draws."""
        bands = tuple(label for label, _ in self.band_styles)
        return ("observations", "mean", *bands, "last observation", "extrapolation")

    @property
    def x_label(self) -> str:
        return "time (UTC)" if self.datetime_axis else "time"


def build_chart(
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
) -> Chart:
    """The chart of a prediction.

    ``observed_times`` is ``[N]`` (sorted), ``observed_values`` ``[N, D]`` with NaN where not
    observed, ``times`` ``[T]`` in any order, ``mean`` and each band's bounds ``[T, D]``. With
    ``datetime_axis`` the times are POSIX seconds. Raises ValueError when the shapes disagree or
    a size is out of range.
    """
    obs_t, obs_v, pred_t, pred_mean, pred_bands = validated_arrays(
        observed_times, observed_values, times, mean, bands
    )
    first, last = validated_boundary(first_observed, last_observed)
    validate_size(width_px, height_px_per_dim, dpi)
    obs_t, obs_v, pred_t, pred_mean = (_plottable(a) for a in (obs_t, obs_v, pred_t, pred_mean))
    pred_bands = [Band(b.label, _plottable(b.lower), _plottable(b.upper)) for b in pred_bands]
    first, last = (float(np.clip(v, -PLOTTED_LIMIT, PLOTTED_LIMIT)) for v in (first, last))
    to_x = _to_datenum if datetime_axis else _identity
    order = np.argsort(pred_t, kind="stable")
    x, obs_x = to_x(pred_t[order]), to_x(obs_t)
    ordered = _widest_first(pred_bands)
    alphas = [_band_alpha(rank, len(ordered)) for rank in range(len(ordered))]
    dims = obs_v.shape[1]
    panels = tuple(
        _panel(
            dim,
            obs_x,
            obs_v[:, dim],
            x,
            pred_mean[order, dim],
            [
                BandLayer(b.label, b.lower[order, dim], b.upper[order, dim], alpha)
                for b, alpha in zip(ordered, alphas, strict=True)
            ],
        )
        for dim in range(min(dims, MAX_PANELS))
    )
    first_x, last_x = (float(v) for v in to_x(np.array([first, last])))
    return Chart(
        title=_title_text(title, dims),
        panels=panels,
        x_range=_x_range(np.concatenate([obs_x, x, [first_x, last_x]])),
        first_x=first_x,
        last_x=last_x,
        datetime_axis=datetime_axis,
        width_px=width_px,
        height_px=MARGIN_PX + len(panels) * height_px_per_dim,
        dpi=dpi,
    )


def _panel(
    dim: int,
    obs_x: np.ndarray,
    obs_y: np.ndarray,
    x: np.ndarray,
    mean: np.ndarray,
    bands: list[BandLayer],
) -> Panel:
    seen = np.isfinite(obs_y)
    drawn = [obs_y[seen], mean, *(b.lower for b in bands), *(b.upper for b in bands)]
    return Panel(
        label=f"dim {dim}",
        observed_x=obs_x[seen],
        observed_y=obs_y[seen],
        x=x,
        mean=mean,
        bands=tuple(bands),
        y_range=_y_range(np.concatenate(drawn)),
    )


def _plottable(values: np.ndarray) -> np.ndarray:
    """``values`` within +-``PLOTTED_LIMIT``, infinities as NaN (not drawn)."""
    clipped = np.clip(values, -PLOTTED_LIMIT, PLOTTED_LIMIT)
    return np.where(np.isinf(values), np.nan, clipped)


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


def _x_range(xs: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(xs)), float(np.max(xs))
    span = high - low
    pad = span * X_MARGIN if span > 0 else max(abs(low) * 1e-6, 1.0)
    return low - pad, high + pad


def _y_range(values: np.ndarray) -> tuple[float, float]:
    """What the finite ``values`` span, padded by ``Y_MARGIN``; (-1, 1) if none is finite."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    span = high - low
    pad = span * Y_MARGIN if span > 0 else max(abs(low) * Y_MARGIN, 0.5)
    return low - pad, high + pad


def _identity(values: np.ndarray) -> np.ndarray:
    return values


def _to_datenum(posix_seconds: np.ndarray) -> np.ndarray:
    """POSIX seconds as matplotlib date numbers (whatever its date epoch is set to)."""
    micros = np.round(np.asarray(posix_seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return np.asarray(mdates.date2num(micros.astype("datetime64[us]")), dtype=np.float64)


def _title_text(title: str, dims: int) -> str:
    text = title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"
    if dims > MAX_PANELS:
        text += f"  (first {MAX_PANELS} of {dims} dimensions shown)"
    return text
