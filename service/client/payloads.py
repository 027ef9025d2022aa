"""``series_payload``: series in any accepted form (dicts, pairs, a long frame) as API dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from service.client.values import (
    _is_frame,
    _numpy,
    _pandas,
    _pandas_times,
    _times_json,
    _values_json,
    _values_list,
)

# The id ``predict`` sends with a new series given as a bare (times, values) pair.
NEW_SERIES_ID = "new"


def _is_series_dict(obj: Any) -> bool:
    """A series in the API's format (rather than a mapping of ids to (times, values))."""
    return isinstance(obj, Mapping) and "times" in obj and isinstance(obj.get("id"), str)


def _one_series(series_id: Any, times: Any, values: Any) -> dict[str, Any]:
    where = f"series {series_id!r}"
    times_json = _times_json(times, f"{where} times")
    values_json = _values_json(values, f"{where} values")
    if len(times_json) != len(values_json):
        raise ValueError(f"{where}: {len(times_json)} times but {len(values_json)} values")
    np = _numpy()
    if np is not None and isinstance(series_id, np.generic):
        series_id = series_id.item()
    return {"id": str(series_id), "times": times_json, "values": values_json}


def _from_series_dict(series: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(series)  # other keys go to the server, which rejects unknown fields
    where = f"series {series.get('id')!r}"
    out["times"] = _times_json(series["times"], f"{where} times")
    if "values" in series:
        out["values"] = _values_json(series["values"], f"{where} values")
    return out


def _from_pair(series_id: Any, pair: Any) -> dict[str, Any]:
    if isinstance(pair, Mapping) and "times" in pair and "values" in pair:
        return _one_series(series_id, pair["times"], pair["values"])
    if isinstance(pair, tuple | list) and len(pair) == 2:
        return _one_series(series_id, pair[0], pair[1])
    raise ValueError(
        f"series {series_id!r}: expected (times, values), got {type(pair).__name__}; "
        "give a mapping {series_id: (times, values)}"
    )


def _from_frame(
    frame: Any, id_col: str, time_col: str, value_cols: Sequence[str] | None
) -> list[dict[str, Any]]:
    pd = _pandas()
    columns = list(frame.columns)
    missing = [c for c in (id_col, time_col, *(value_cols or ())) if c not in columns]
    if missing:
        raise ValueError(
            f"the data frame has no column(s) {missing}; it has {columns} "
            "(set id_col, time_col and value_cols)"
        )
    if value_cols is None:
        value_cols = [c for c in columns if c not in (id_col, time_col)]
    value_cols = list(value_cols)
    if not value_cols:
        raise ValueError(f"the data frame has no value columns besides {id_col!r}, {time_col!r}")
    for column in value_cols:
        dtype = frame[column].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ValueError(f"value column {column!r} is not numeric ({dtype})")
    if frame.empty:
        raise ValueError("the data frame has no rows")
    if frame[id_col].isna().any():
        raise ValueError(f"column {id_col!r} has missing series ids")
    out = []
    for series_id, part in frame.groupby(id_col, sort=False):
        where = f"series {series_id!r}"
        values = part[value_cols].to_numpy(dtype=float, na_value=math.nan)
        out.append(
            {
                "id": str(series_id.item() if hasattr(series_id, "item") else series_id),
                "times": _pandas_times(part[time_col], f"{where} times"),
                "values": _values_list(values),
            }
        )
    return out


def series_payload(
    series: Any,
    *,
    id_col: str = "id",
    time_col: str = "time",
    value_cols: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Series in any of the accepted forms (see ``service.client``'s docstring) as API dicts."""
    if _is_frame(series):
        return _from_frame(series, id_col, time_col, value_cols)
    if _is_series_dict(series):
        return [_from_series_dict(series)]
    if isinstance(series, Mapping):
        if not series:
            raise ValueError("no series given (an empty mapping)")
        return [_from_pair(series_id, pair) for series_id, pair in series.items()]
    if isinstance(series, Sequence) and not isinstance(series, str | bytes):
        if not series:
            raise ValueError("no series given (an empty list)")
        out = []
        for i, item in enumerate(series):
            if not _is_series_dict(item):
                raise ValueError(
                    f"series[{i}] is a {type(item).__name__}: a list must hold dicts "
                    '{"id": ..., "times": [...], "values": [...]}'
                )
            out.append(_from_series_dict(item))
        return out
    raise ValueError(
        f"cannot send series given as {type(series).__name__}: give a list of "
        '{"id", "times", "values"} dicts, a mapping {series_id: (times, values)} '
        "or a long pandas DataFrame (id, time and value columns)"
    )


def _single_series(
    series: Any, id_col: str, time_col: str, value_cols: Sequence[str] | None
) -> dict[str, Any]:
    """``predict``'s one series: any form of ``series_payload`` holding one series, or a
    ``(times, values)`` pair (sent with the id "new")."""
    if (
        isinstance(series, tuple)
        and len(series) == 2
        and not any(_is_series_dict(s) for s in series)
    ):
        return _one_series(NEW_SERIES_ID, *series)
    payload = series_payload(series, id_col=id_col, time_col=time_col, value_cols=value_cols)
    if len(payload) != 1:
        ids = [s.get("id") for s in payload][:5]
        raise ValueError(f"predict takes one series, got {len(payload)} ({ids}...)")
    return payload[0]
