"""Times and values (lists, numpy arrays, pandas columns, datetimes) converted to the API's JSON.

numpy and pandas are never imported here: they are looked up in ``sys.modules``, since data can
only be their arrays or frames if the caller has imported them (importing the client stays light).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any


def _numpy() -> Any:
    """numpy if the caller has imported it (data cannot be numpy arrays otherwise)."""
    return sys.modules.get("numpy")


def _pandas() -> Any:
    return sys.modules.get("pandas")


def _is_frame(obj: Any) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(obj, pd.DataFrame)


def _is_pandas_1d(obj: Any) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(obj, pd.Series | pd.Index)


def _datetime64_iso(array: Any, where: str) -> list[str]:
    """numpy datetime64 values (taken as UTC) as ISO-8601 strings ending in 'Z'."""
    np = _numpy()
    missing = np.flatnonzero(np.isnat(array))
    if missing.size:
        raise ValueError(f"{where}: time {int(missing[0])} is NaT (a missing time)")
    micro = array.astype("datetime64[us]")
    unit = "s" if bool((micro.astype("datetime64[s]") == micro).all()) else "us"
    return [str(s) for s in np.datetime_as_string(micro, unit=unit, timezone="UTC")]


def _time_value(value: Any, where: str) -> Any:
    """One time as JSON: numbers and strings as they are, datetimes as ISO-8601."""
    np, pd = _numpy(), _pandas()
    if pd is not None and value is pd.NaT:
        raise ValueError(f"{where}: a time is NaT (missing)")
    if pd is not None and isinstance(value, pd.Timestamp):
        if value.tzinfo is None:
            value = value.tz_localize("UTC")
        return value.isoformat()
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{where}: datetime {value.isoformat()} has no timezone; give it one "
                "(e.g. tzinfo=datetime.timezone.utc) or use ISO-8601 strings with an offset"
            )
        return value.isoformat()
    if isinstance(value, date):
        raise ValueError(f"{where}: {value!r} is a date; use a timezone-aware datetime")
    if value is None or isinstance(value, bool | int | float | str):
        return value  # the server checks it and names the series, the index and the rule
    if np is not None:
        if isinstance(value, np.datetime64):
            return _datetime64_iso(np.asarray([value]), where)[0]
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return value.item()
    raise ValueError(
        f"{where}: time {value!r} ({type(value).__name__}) is not a number, an ISO-8601 string "
        "or a timezone-aware datetime"
    )


def _times_json(times: Any, where: str) -> list[Any]:
    np = _numpy()
    if _is_pandas_1d(times):
        return _pandas_times(times, where)
    if np is not None and isinstance(times, np.ndarray):
        if times.ndim != 1:
            raise ValueError(f"{where}: times must be one-dimensional, got shape {times.shape}")
        if times.dtype.kind == "M":
            return _datetime64_iso(times, where)
        if times.dtype.kind in "iuf":
            return times.tolist()
        if times.dtype.kind == "m":
            raise ValueError(f"{where}: timedelta times: convert them to numbers first")
        return [_time_value(t, where) for t in times.tolist()]
    if isinstance(times, str | bytes | Mapping) or not isinstance(times, Iterable):
        raise ValueError(f"{where}: times must be a list or an array, got {type(times).__name__}")
    return [_time_value(t, where) for t in times]


def _pandas_times(column: Any, where: str) -> list[Any]:
    """A pandas Series/Index of times as JSON: datetimes (naive = UTC) as ISO-8601."""
    pd = _pandas()
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        values = pd.Series(column)
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return _datetime64_iso(values.to_numpy(dtype="datetime64[ns]"), where)
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise ValueError(f"{where}: timedelta times: convert them to numbers first")
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return _values_list(column.to_numpy(dtype=float, na_value=math.nan))
    return [_time_value(t, where) for t in column.tolist()]


def _value(value: Any) -> Any:
    """One value as JSON: NaN (and None, pandas NA) become null; the server checks the rest."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    np = _numpy()
    if np is not None and isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return _value(value.item())
    pd = _pandas()
    if pd is not None and value is pd.NA:
        return None
    return value


def _values_list(values: Any) -> list[Any]:
    """Nested lists (``[T]`` or ``[T][D]``) with NaN as None."""
    out = []
    for item in values.tolist() if hasattr(values, "tolist") else values:
        if isinstance(item, list | tuple):
            out.append([_value(v) for v in item])
        else:
            out.append(_value(item))
    return out


def _values_json(values: Any, where: str) -> list[Any]:
    np = _numpy()
    if _is_frame(values) or _is_pandas_1d(values):
        values = values.to_numpy()
    if np is not None and isinstance(values, np.ndarray):
        if values.ndim not in (1, 2):
            raise ValueError(f"{where}: values must be [T] or [T, D], got shape {values.shape}")
        if values.dtype.kind in "biuf":
            values = values.astype(float)
        return _values_list(values)
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise ValueError(f"{where}: values must be a list or an array, got {type(values).__name__}")
    out = []
    for item in values:
        if np is not None and isinstance(item, np.ndarray):
            item = item.tolist()
        if isinstance(item, list | tuple):
            out.append([_value(v) for v in item])
        else:
            out.append(_value(item))
    return out
