"""Size limits of a request's series (``ODECAST_MAX_SERIES``, ``_MAX_POINTS_PER_SERIES``,
``_MAX_POINTS``, ``_MAX_DIMS``), checked before any series is parsed."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ApiError
from .schemas import SeriesIn
from .settings import Settings


def check_series_sizes(series: Sequence[SeriesIn], settings: Settings, where: str) -> None:
    """422 ``too_large`` naming the first limit ``series`` (found at ``where``) goes past."""
    if len(series) > settings.max_series:
        _fail(where, f"{len(series)} series; at most {settings.max_series}", "MAX_SERIES")
    for position, one in enumerate(series):
        check_one_series(one, settings, f"{where}[{position}]")
    total = sum(len(one.times) for one in series)
    if total > settings.max_points:
        message = f"{total} observations in all; at most {settings.max_points}"
        _fail(where, message, "MAX_POINTS")


def check_one_series(series: SeriesIn, settings: Settings, where: str) -> None:
    """The per-series limits: observations and dimensions."""
    points = len(series.times)
    if points > settings.max_points_per_series:
        message = f"{points} observations; at most {settings.max_points_per_series}"
        _fail(f"{where}.times", message, "MAX_POINTS_PER_SERIES")
    if points > settings.max_points:
        message = f"{points} observations; at most {settings.max_points} in all"
        _fail(f"{where}.times", message, "MAX_POINTS")
    dims = max((len(row) for row in series.values if isinstance(row, list)), default=1)
    if dims > settings.max_dims:
        _fail(f"{where}.values", f"{dims} dimensions; at most {settings.max_dims}", "MAX_DIMS")


def _fail(loc: str, message: str, setting: str) -> None:
    text = f"{loc}: {message} per request (ODECAST_{setting}); split the data set"
    raise ApiError(422, "too_large", text, [{"loc": loc, "msg": message}])
