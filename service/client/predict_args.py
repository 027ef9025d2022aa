"""A prediction's times or grid, levels, quantiles and samples, checked, as query or body fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from service.client.values import _numpy, _time_value, _times_json


def _interval_fields(
    level: Sequence[float] | float | None, quantiles: Sequence[float] | None, n_samples: int | None
) -> dict[str, Any]:
    """The optional intervals and sample count of a POST prediction body."""
    fields: dict[str, Any] = {}
    levels, qs = _as_list(level), _as_list(quantiles)
    if levels:
        fields["level"] = [float(v) for v in levels]
    if qs:
        fields["quantiles"] = [float(q) for q in qs]
    if n_samples is not None:
        fields["n_samples"] = n_samples
    return fields


# The API's ceiling of times per item of a body (service.schemas): a grid the client lists
# itself is no longer.
MAX_GRID_TIMES = 100_000


def _grid_values(grid: Any) -> list[Any]:
    """The times of ``grid`` = (start, stop, num), inclusive: numbers, or UTC ISO-8601 strings
    when start and stop are ISO-8601 strings (with an offset)."""
    start, stop, num = _grid(grid)
    if isinstance(start, str) != isinstance(stop, str):
        raise ValueError(f"grid start and stop must both be numbers or both ISO-8601: {grid!r}")
    if num > MAX_GRID_TIMES:
        raise ValueError(f"grid's num must be at most {MAX_GRID_TIMES:,}, got {num:,}")
    if not (isinstance(start, str) and isinstance(stop, str)):
        if num == 1:
            return [float(start)]
        return [start + (stop - start) * i / (num - 1) for i in range(num)]
    try:
        moments = [datetime.fromisoformat(v) for v in (start, stop)]
    except ValueError as err:
        raise ValueError(f"grid start and stop must be ISO-8601 times: {err}") from None
    if any(m.utcoffset() is None for m in moments):
        raise ValueError("grid start and stop need a UTC offset (Z or +02:00)")
    first, last = (m.timestamp() for m in moments)
    steps = [first] if num == 1 else [first + (last - first) * i / (num - 1) for i in range(num)]
    return [datetime.fromtimestamp(t, UTC).isoformat() for t in steps]


def _grid(grid: Any) -> tuple[Any, Any, int]:
    if not isinstance(grid, tuple | list) or len(grid) != 3:
        raise ValueError(f"grid must be (start, stop, num), got {grid!r}")
    start, stop, num = grid
    np = _numpy()
    if np is not None:
        start, stop, num = (v.item() if isinstance(v, np.generic) else v for v in grid)
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"grid's num must be a positive integer, got {num!r}")
    return start, stop, num


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, int | float) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _query_number(value: Any) -> str:
    """A number as a query value; floats by repr, which keeps every digit."""
    np = _numpy()
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, float) else str(value)


def _query_time(value: Any, where: str) -> str:
    return _query_number(_time_value(value, where))


def _predict_params(
    model_id: str,
    series_id: str,
    times: Any,
    grid: tuple[Any, Any, int] | None,
    level: Sequence[float] | float | None,
    quantiles: Sequence[float] | None,
    n_samples: int | None,
    seed: int,
) -> list[tuple[str, str]]:
    """The query of ``GET /predict`` and ``GET /predict.png`` for a training series."""
    params = [("model_id", str(model_id)), ("series_id", str(series_id))]
    listed = _listed_times(times, grid)
    if listed is not None:
        params += [("t", _query_time(t, "times")) for t in listed]
    else:
        start, stop, num = _grid(grid)
        params += [
            ("start", _query_time(start, "grid start")),
            ("stop", _query_time(stop, "grid stop")),
            ("num", str(num)),
        ]
    params += [("level", _query_number(v)) for v in _as_list(level)]
    params += [("quantiles", _query_number(q)) for q in _as_list(quantiles)]
    if n_samples is not None:
        params.append(("n_samples", str(n_samples)))
    params.append(("seed", str(seed)))
    return params


def _post_times(times: Any, grid: tuple[Any, Any, int] | None) -> list[Any]:
    """The ``times`` of ``POST /predict``'s body: ``times`` as JSON, or a numeric ``grid``'s."""
    listed = _listed_times(times, grid)
    if listed is not None:
        return listed
    start, stop, num = _grid(grid)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, stop)):
        raise ValueError("a grid for a new series must be numeric; give times instead")
    return _grid_values((start, stop, num))


def _listed_times(times: Any, grid: tuple[Any, Any, int] | None) -> list[Any] | None:
    """``times`` as JSON values (never empty), or None when a grid is given instead; ValueError
    unless exactly one of the two is."""
    if (times is None) == (grid is None):
        raise ValueError("give times or grid=(start, stop, num), one of them")
    if times is None:
        return None
    listed = _times_json(times, "times")
    if not listed:
        raise ValueError("times is empty")
    return listed
