"""A Python client for the odecast HTTP API, built on httpx.

    from service.client import Client

    with Client("http://127.0.0.1:8000") as client:
        fitted = client.fit({"a": (times, values), "b": (times_b, values_b)},
                            training={"max_seconds": 60})
        job = client.wait(fitted.job_id)            # a progress bar on stderr
        if job.status != "succeeded":
            raise SystemExit(job.error)
        prediction = client.predict(fitted.model_id, series_id="a", grid=(0, 15, 100), level=90)
        rows = prediction.to_rows()

Importing this module needs only httpx and the standard library: numpy and pandas are used when
the caller's data are numpy arrays or pandas frames (the caller has imported them then), never
imported here otherwise, and torch never.

Series (``fit`` and ``predict(series=...)``) may be given as

* a list of dicts in the API's format, ``{"id", "times", "values"}`` (sent as given, except that
  numpy arrays inside become lists and NaN values become null);
* a mapping ``{series_id: (times, values)}``: times and values lists or numpy arrays, values
  ``[T]`` or ``[T, D]``, NaN for not observed; times numbers, ISO-8601 strings with an offset,
  numpy ``datetime64`` (taken as UTC) or timezone-aware ``datetime`` objects;
* a long pandas data frame with columns ``id_col``, ``time_col`` and the value columns (default:
  every other column); NaN for not observed; timestamps naive (taken as UTC) or tz-aware.

Anything else is a ``ValueError`` before any request. Server errors are raised as ``ApiError``
with the server's code and message; a server that cannot be reached, or answers 502, 503 or 504,
is retried with exponential backoff (honouring ``Retry-After``) and then raised as
``ServerUnavailable``. ``POST /fit`` always carries an ``Idempotency-Key`` (a fresh uuid4 unless
given), the same on every retry, so a retried fit never starts two jobs.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import quote

import httpx

__all__ = [
    "ApiError",
    "Client",
    "ClientError",
    "FitAccepted",
    "Interval",
    "Job",
    "Model",
    "Prediction",
    "Progress",
    "ServerUnavailable",
    "series_payload",
]


def _package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "0+unknown"
    try:
        return version("odecast")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _package_version()
USER_AGENT = f"odecast-client/{__version__}"

RETRY_STATUSES = frozenset({502, 503, 504})
DONE_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
DEFAULT_MAX_RETRY_AFTER_S = 30.0
MAX_BACKOFF_S = 30.0
NEW_SERIES_ID = "new"
# Off a terminal, ``wait`` writes its progress line at most this often (and the last one).
PROGRESS_LOG_EVERY_S = 5.0


# --------------------------------------------------------------------------- errors


class ClientError(Exception):
    """Base of every error this client raises (besides ValueError for bad arguments and
    TimeoutError from ``wait``)."""


class ApiError(ClientError):
    """The server answered with an error: its HTTP status, its machine code (None when the
    answer was not the API's JSON error shape), its message and details."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        super().__init__(str(self))

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"HTTP {self.status}{code}: {self.message}"


class ServerUnavailable(ClientError):
    """The server could not be reached, or kept answering 502/503/504, after every retry.

    ``status``, ``code`` and ``message`` are the last answer's (``status`` is None when the
    connection itself failed; ``message`` is then the transport error); ``attempts`` counts the
    requests made."""

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        details: list[dict[str, Any]] | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.attempts = attempts


# --------------------------------------------------------------------------- results


def _known(cls: type, data: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """The keys of ``data`` that are fields of ``cls`` (a newer server may send more)."""
    names = set(cls.__dataclass_fields__) - {"raw", *skip}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Progress:
    """A job's progress; every field is None until the worker has reported it."""

    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None
    val_interp_mse: float | None = None
    val_extrap_mse: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Progress:
        return cls(**_known(cls, data or {}))


@dataclass(frozen=True)
class Job:
    """A training job (``GET /jobs/{job_id}``); ``raw`` is the answer as sent."""

    job_id: str
    model_id: str | None = None
    status: str = "queued"
    progress: Progress = field(default_factory=Progress)
    error: str | None = None
    resumed_from_epoch: int | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """The job has ended: succeeded, failed or cancelled."""
        return self.status in DONE_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        progress = Progress.from_json(data.get("progress"))
        return cls(**_known(cls, data, skip=["progress"]), progress=progress, raw=dict(data))


@dataclass(frozen=True)
class Model:
    """A model in the registry (``GET /models/{model_id}``); ``raw`` is the answer as sent."""

    model_id: str
    name: str | None = None
    status: str | None = None
    job_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    dims: int | None = None
    time_kind: str | None = None
    time_range: list[float] = field(default_factory=list)
    time_scale: float | None = None
    n_series: int | None = None
    n_points: int | None = None
    series_ids: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    skill: dict[str, Any] | None = None
    error: str | None = None
    created_at: str | None = None
    trained_at: str | None = None
    checkpoint_version: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        return cls(**_known(cls, data), raw=dict(data))


@dataclass(frozen=True)
class FitAccepted:
    """``POST /fit``'s answer, and the Idempotency-Key that was sent with it."""

    job_id: str
    model_id: str
    status_url: str
    idempotency_key: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class Interval(NamedTuple):
    """A central interval: ``lower`` and ``upper`` as ``[T][D]``."""

    lower: list[list[float]]
    upper: list[list[float]]


def _as_number(label: str) -> float:
    try:
        return float(label)
    except ValueError:
        return math.inf


@dataclass(frozen=True)
class Prediction:
    """A prediction, in the order the times were asked: ``mean`` is ``[T][D]``, ``intervals``
    maps a level (``"80"``) to its Interval, ``quantiles`` a quantile (``"0.1"``) to ``[T][D]``,
    ``kind`` says interpolation or extrapolation per time."""

    model_id: str
    series_id: str
    times: list[float | str]
    mean: list[list[float]]
    intervals: dict[str, Interval] = field(default_factory=dict)
    quantiles: dict[str, list[list[float]]] = field(default_factory=dict)
    kind: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prediction:
        intervals = {
            str(level): Interval(band["lower"], band["upper"])
            for level, band in (data.get("intervals") or {}).items()
        }
        return cls(
            model_id=data["model_id"],
            series_id=data["series_id"],
            times=list(data["times"]),
            mean=data["mean"],
            intervals=intervals,
            quantiles=dict(data.get("quantiles") or {}),
            kind=list(data.get("kind") or []),
            raw=dict(data),
        )

    @property
    def dims(self) -> int:
        return len(self.mean[0]) if self.mean else 0

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per time and dimension: ``time``, ``dim``, ``mean``, then ``lower_<level>``
        and ``upper_<level>`` per level, ``q_<quantile>`` per quantile (ascending), ``kind``."""
        levels = sorted(self.intervals, key=_as_number)
        quantiles = sorted(self.quantiles, key=_as_number)
        rows = []
        for i, t in enumerate(self.times):
            for d, mean in enumerate(self.mean[i]):
                row: dict[str, Any] = {"time": t, "dim": d, "mean": mean}
                for level in levels:
                    row[f"lower_{level}"] = self.intervals[level].lower[i][d]
                    row[f"upper_{level}"] = self.intervals[level].upper[i][d]
                for q in quantiles:
                    row[f"q_{q}"] = self.quantiles[q][i][d]
                row["kind"] = self.kind[i] if i < len(self.kind) else None
                rows.append(row)
        return rows

    def to_frame(self) -> Any:
        """``to_rows()`` as a pandas DataFrame (ISO-8601 times become UTC timestamps)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("Prediction.to_frame needs pandas: pip install pandas") from err
        frame = pd.DataFrame(self.to_rows(), columns=self._columns())
        if any(isinstance(t, str) for t in self.times):
            frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
        return frame

    def _columns(self) -> list[str]:
        columns = ["time", "dim", "mean"]
        for level in sorted(self.intervals, key=_as_number):
            columns += [f"lower_{level}", f"upper_{level}"]
        columns += [f"q_{q}" for q in sorted(self.quantiles, key=_as_number)]
        return [*columns, "kind"]


@dataclass(frozen=True)
class PredictionBatch:
    """``POST /predict/batch``'s answer: one ``Prediction`` per item in the order sent, None
    where ``errors`` (``{index, code, message}``) says why."""

    model_id: str
    predictions: list[Prediction | None]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PredictionBatch:
        predictions = [
            None if p is None else Prediction.from_json(p) for p in data.get("predictions") or []
        ]
        return cls(data["model_id"], predictions, list(data.get("errors") or []))

    def to_rows(self) -> list[dict[str, Any]]:
        """``Prediction.to_rows`` of every answered item, each row led by the series' ``id``."""
        return [
            {"id": p.series_id, **row}
            for p in self.predictions
            if p is not None
            for row in p.to_rows()
        ]


# --------------------------------------------------------------------------- series conversion


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


def _is_series_dict(obj: Any) -> bool:
    """A series in the API's format (rather than a mapping of ids to (times, values))."""
    return isinstance(obj, Mapping) and "times" in obj and isinstance(obj.get("id"), str)


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
    """Series in any of the accepted forms (see the module's docstring) as the API's dicts."""
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


# --------------------------------------------------------------------------- JSON and helpers


def _json_default(obj: Any) -> Any:
    np = _numpy()
    if np is not None:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
    if isinstance(obj, datetime):
        return _time_value(obj, "a datetime")
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=_json_default).encode()


def _query_number(value: Any) -> str:
    np = _numpy()
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, float) else str(value)


def _query_time(value: Any, where: str) -> str:
    return _query_number(_time_value(value, where))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, int | float) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _segment(value: str) -> str:
    """An id as one path segment (the server checks it; this only keeps it one segment)."""
    return quote(str(value), safe="")


def _retry_after(value: str | None) -> float | None:
    """A Retry-After header's delay in seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(job: Job, width: int = 24) -> str:
    """A one-line summary of a job: status, an epoch bar, loss, validation errors, ETA."""
    p = job.progress
    parts = [f"{job.status:<9}"]
    if p.epochs:
        epoch = p.epoch or 0
        filled = min(width, int(width * epoch / p.epochs))
        parts.append(f"[{'#' * filled}{'.' * (width - filled)}] {epoch}/{p.epochs}")
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4g}")
    if p.val_interp_mse is not None or p.val_extrap_mse is not None:
        interp = "-" if p.val_interp_mse is None else f"{p.val_interp_mse:.3g}"
        extrap = "-" if p.val_extrap_mse is None else f"{p.val_extrap_mse:.3g}"
        parts.append(f"val interp {interp} extrap {extrap}")
    if p.elapsed_s is not None:
        parts.append(f"{_duration(p.elapsed_s)} elapsed")
    if p.eta_s is not None and not job.done:
        parts.append(f"ETA {_duration(p.eta_s)}")
    if job.error:
        parts.append(f"error: {job.error}")
    return "  ".join(parts)


# --------------------------------------------------------------------------- the client


class _ProgressOutput:
    """``Client.wait``'s progress: one line rewritten in place on a terminal; elsewhere a line
    every ``PROGRESS_LOG_EVERY_S`` when it changed, and the final one."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        isatty = getattr(out, "isatty", None)
        self.terminal = bool(isatty and isatty())
        self.shown = ""
        self.logged_at = -math.inf

    def show(self, line: str, *, final: bool) -> None:
        if line == self.shown:
            return
        if self.terminal:
            self.out.write("\r" + line.ljust(len(self.shown)))
        elif final or time.monotonic() - self.logged_at >= PROGRESS_LOG_EVERY_S:
            self.out.write(line + "\n")
            self.logged_at = time.monotonic()
        else:
            return  # a changed line not written yet: the next one replaces it
        self.out.flush()
        self.shown = line

    def close(self) -> None:
        if self.terminal and self.shown:
            self.out.write("\n")
            self.out.flush()


class Client:
    """The odecast API over HTTP. Thread-safe as httpx.Client is; use as a context manager or
    call ``close()``.

    ``retries`` more attempts are made after a connection error or a 502/503/504, waiting
    ``backoff_s * 2**attempt`` seconds (or the server's Retry-After, at most
    ``max_retry_after_s``) in between. Other errors are never retried."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if retries < 0 or backoff_s < 0 or max_retry_after_s < 0:
            raise ValueError("retries, backoff_s and max_retry_after_s must not be negative")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key is not None:
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        asked = _retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after_s)
        return min(self.backoff_s * 2**attempt, MAX_BACKOFF_S)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send, retrying connection errors and 502/503/504; raise ApiError for other errors."""
        headers = dict(headers or {})
        content = None
        if body is not None:
            content = _dumps(body)
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as err:
                raise ClientError(f"{method} {self.base_url}{path}: {err}") from err
            except httpx.TransportError as err:
                if attempt >= self.retries:
                    raise ServerUnavailable(
                        f"cannot reach {self.base_url} ({method} {path}): "
                        f"{type(err).__name__}: {err or 'no answer'} "
                        f"(after {attempt + 1} attempt(s))",
                        message=f"{type(err).__name__}: {err}",
                        attempts=attempt + 1,
                    ) from err
                delay = self._delay(attempt, None)
            else:
                if response.status_code in RETRY_STATUSES:
                    if attempt >= self.retries:
                        raise _unavailable(method, path, response, attempt + 1)
                    delay = self._delay(attempt, response.headers.get("Retry-After"))
                elif response.is_error:
                    raise _api_error(response)
                else:
                    return response
            time.sleep(delay)
            attempt += 1

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as err:
            raise ClientError(
                f"{method} {path}: HTTP {response.status_code} answer is not JSON: "
                f"{response.text[:200]!r}"
            ) from err

    # ------------------------------------------------------------------ fitting and jobs

    def fit(
        self,
        series: Any,
        *,
        model: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> FitAccepted:
        """``POST /fit``: queue the training of a model on ``series``."""
        body: dict[str, Any] = {
            "series": series_payload(
                series, id_col=id_col, time_col=time_col, value_cols=value_cols
            )
        }
        if model is not None:
            body["model"] = dict(model)
        if training is not None:
            body["training"] = dict(training)
        if name is not None:
            body["name"] = name
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        data = self._json("POST", "/fit", body=body, headers={"Idempotency-Key": key})
        return FitAccepted(
            job_id=data["job_id"],
            model_id=data["model_id"],
            status_url=data.get("status_url", f"/jobs/{data['job_id']}"),
            idempotency_key=key,
            raw=data,
        )

    def job(self, job_id: str) -> Job:
        """``GET /jobs/{job_id}``."""
        return Job.from_json(self._json("GET", f"/jobs/{_segment(job_id)}"))

    def jobs(self, limit: int | None = None) -> list[Job]:
        """``GET /jobs``: recent jobs (Redis keeps ended ones for a while), newest first; at most
        ``limit`` (the server's default 100)."""
        params = None if limit is None else [("limit", str(limit))]
        return [Job.from_json(j) for j in self._json("GET", "/jobs", params=params)["jobs"]]

    def cancel(self, job_id: str) -> Job:
        """``DELETE /jobs/{job_id}``: a queued job is cancelled at once, a running one at its
        next epoch (the answer then still says running)."""
        return Job.from_json(self._json("DELETE", f"/jobs/{_segment(job_id)}"))

    def wait(
        self,
        job_id: str,
        *,
        progress: bool = True,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
        stream: IO[str] | None = None,
    ) -> Job:
        """Poll the job until it has ended and return it; a failed or cancelled job is returned,
        not raised (check ``job.status``). With ``progress``, a one-line bar on ``stream``
        (default stderr), rewritten in place on a terminal, else a line every
        ``PROGRESS_LOG_EVERY_S`` and the last one (a log file or CI output gets no carriage
        returns). TimeoutError after ``timeout_s``."""
        out = _ProgressOutput(stream if stream is not None else sys.stderr)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                job = self.job(job_id)
                if progress:
                    out.show(progress_line(job), final=job.done)
                if job.done:
                    return job
                pause = poll_s
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"job {job_id} is still {job.status} after {timeout_s:g} s"
                        )
                    pause = min(pause, left)
                time.sleep(pause)
        finally:
            out.close()

    # ------------------------------------------------------------------ the registry

    def models(self) -> list[Model]:
        """``GET /models``: every model in the store, oldest first."""
        return [Model.from_json(m) for m in self._json("GET", "/models")["models"]]

    def model(self, model_id: str) -> Model:
        """``GET /models/{model_id}``."""
        return Model.from_json(self._json("GET", f"/models/{_segment(model_id)}"))

    def delete_model(self, model_id: str) -> None:
        """``DELETE /models/{model_id}``: the model and its files (a job training it stops)."""
        self._request("DELETE", f"/models/{_segment(model_id)}")

    def health(self) -> dict[str, Any]:
        """``GET /healthz``."""
        return self._json("GET", "/healthz")

    # ------------------------------------------------------------------ predictions

    def predict(
        self,
        model_id: str,
        *,
        series_id: str | None = None,
        series: Any = None,
        times: Any = None,
        grid: tuple[Any, Any, int] | None = None,
        level: Sequence[float] | float | None = None,
        quantiles: Sequence[float] | None = None,
        n_samples: int | None = None,
        seed: int = 0,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> Prediction:
        """Predict a training series (``series_id``: ``GET /predict``, at ``times`` or on a
        ``grid=(start, stop, num)``) or a new one (``series``: ``POST /predict``, at ``times``
        or on a numeric grid). ``level`` (0-100) or ``quantiles`` (0-1); default one 80%
        interval."""
        if (series_id is None) == (series is None):
            raise ValueError("give series_id (a training series) or series (a new one), not both")
        if series_id is not None:
            params = self._predict_params(
                model_id, series_id, times, grid, level, quantiles, n_samples, seed
            )
            return Prediction.from_json(self._json("GET", "/predict", params=params))
        body: dict[str, Any] = {
            "model_id": model_id,
            "series": _single_series(series, id_col, time_col, value_cols),
            "times": self._post_times(times, grid),
            "seed": seed,
            **_interval_fields(level, quantiles, n_samples),
        }
        return Prediction.from_json(self._json("POST", "/predict", body=body))

    def predict_batch(
        self,
        model_id: str,
        *,
        series_ids: Sequence[str] = (),
        series: Any = None,
        times: Any = None,
        grid: tuple[Any, Any, int] | None = None,
        level: Sequence[float] | float | None = None,
        quantiles: Sequence[float] | None = None,
        n_samples: int | None = None,
        seed: int = 0,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> PredictionBatch:
        """``POST /predict/batch``: training series by id (``series_ids``) and new series
        (``series``, any form ``fit`` takes), all at the same ``times`` or ``grid`` (numbers or
        ISO-8601), from one batched solve; the same seed for every series."""
        listed = _grid_values(grid) if times is None and grid is not None else None
        listed = self._post_times(times, grid) if listed is None else listed
        new = (
            []
            if series is None
            else series_payload(series, id_col=id_col, time_col=time_col, value_cols=value_cols)
        )
        items: list[dict[str, Any]] = [{"series_id": str(i), "times": listed} for i in series_ids]
        items += [{"series": one, "times": listed} for one in new]
        if not items:
            raise ValueError("give series_ids, series, or both")
        body = {
            "model_id": model_id,
            "items": items,
            "seed": seed,
            **_interval_fields(level, quantiles, n_samples),
        }
        return PredictionBatch.from_json(self._json("POST", "/predict/batch", body=body))

    def plot(
        self,
        model_id: str,
        series_id: str,
        *,
        times: Any = None,
        grid: tuple[Any, Any, int] | None = None,
        level: Sequence[float] | float | None = None,
        n_samples: int | None = None,
        seed: int = 0,
        path: str | os.PathLike[str] | None = None,
    ) -> bytes:
        """``GET /predict.png``: the PNG's bytes, also written to ``path`` if given."""
        params = self._predict_params(
            model_id, series_id, times, grid, level, None, n_samples, seed
        )
        png = self._request("GET", "/predict.png", params=params).content
        if path is not None:
            Path(path).write_bytes(png)
        return png

    @staticmethod
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
        params = [("model_id", str(model_id)), ("series_id", str(series_id))]
        if (times is None) == (grid is None):
            raise ValueError("give times or grid=(start, stop, num), one of them")
        if times is not None:
            listed = _times_json(times, "times")
            if not listed:
                raise ValueError("times is empty")
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

    @staticmethod
    def _post_times(times: Any, grid: tuple[Any, Any, int] | None) -> list[Any]:
        if (times is None) == (grid is None):
            raise ValueError("give times or grid=(start, stop, num), one of them")
        if times is not None:
            listed = _times_json(times, "times")
            if not listed:
                raise ValueError("times is empty")
            return listed
        start, stop, num = _grid(grid)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, stop)):
            raise ValueError("a grid for a new series must be numeric; give times instead")
        return _grid_values((start, stop, num))


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


def _grid_values(grid: Any) -> list[Any]:
    """The times of ``grid`` = (start, stop, num), inclusive: numbers, or UTC ISO-8601 strings
    when start and stop are ISO-8601 strings (with an offset)."""
    start, stop, num = _grid(grid)
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


def _error_parts(response: httpx.Response) -> tuple[str | None, str, list[dict[str, Any]]]:
    """The code, message and details of an error answer (the API's JSON shape, or text)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            details = error.get("details")
            return (
                str(error.get("code")) if error.get("code") else None,
                str(error["message"]),
                details if isinstance(details, list) else [],
            )
        if "detail" in body:
            return None, str(body["detail"]), []
    text = response.text.strip()
    return None, text[:2000] if text else response.reason_phrase, []


def _api_error(response: httpx.Response) -> ApiError:
    code, message, details = _error_parts(response)
    return ApiError(response.status_code, code, message, details)


def _unavailable(method: str, path: str, response: httpx.Response, attempts: int) -> Exception:
    code, message, details = _error_parts(response)
    label = f" {code}" if code else ""
    return ServerUnavailable(
        f"{method} {path}: HTTP {response.status_code}{label}: {message} "
        f"(after {attempts} attempt(s))",
        status=response.status_code,
        code=code,
        message=message,
        details=details,
        attempts=attempts,
    )
