"""The client's result types, read from the API's JSON answers: Job, Model, Prediction..."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

# A job in one of these states will not change any more (``Job.done``).
DONE_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def _known(cls: type, data: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """The keys of ``data`` that are fields of ``cls`` (a newer server may send more)."""
    names = {f.name for f in fields(cls)} - {"raw", *skip}
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
    stage: str | None = None  # the model's stage stored so far: provisional, final, or None
    version: int | None = None  # the model version the job trains
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
    device: str | None = None
    error: str | None = None
    created_at: str | None = None
    trained_at: str | None = None
    checkpoint_version: int | None = None
    stage: str | None = None  # what serves: provisional, final, or None (nothing yet)
    version: int = 1  # the serving version (each refit adds one)
    parent_version: int | None = None
    points_added: int | None = None
    pending_version: int | None = None  # a refit not final yet
    versions: list[dict[str, Any]] = field(default_factory=list)
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


@dataclass(frozen=True)
class RefitAccepted:
    """``POST /models/{model_id}/refit``'s answer: the job training the new ``version``."""

    job_id: str
    model_id: str
    version: int
    status_url: str
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
    ``kind`` says interpolation or extrapolation per time, ``stage`` which model stage answered
    (``provisional`` while the latent ODE trains, then ``final``)."""

    model_id: str
    series_id: str
    times: list[float | str]
    mean: list[list[float]]
    intervals: dict[str, Interval] = field(default_factory=dict)
    quantiles: dict[str, list[list[float]]] = field(default_factory=dict)
    kind: list[str] = field(default_factory=list)
    stage: str | None = None
    version: int | None = None
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
            stage=data.get("stage"),
            version=data.get("version"),
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

    @classmethod
    def joined(cls, parts: Sequence[PredictionBatch]) -> PredictionBatch:
        """The answers of a batch sent in ``parts`` (in order), as one: errors' indices count
        across the parts."""
        predictions: list[Prediction | None] = []
        errors = []
        for part in parts:
            errors += [{**e, "index": e["index"] + len(predictions)} for e in part.errors]
            predictions += part.predictions
        return cls(parts[0].model_id, predictions, errors)

    def to_rows(self) -> list[dict[str, Any]]:
        """``Prediction.to_rows`` of every answered item, each row led by the series' ``id``."""
        return [
            {"id": p.series_id, **row}
            for p in self.predictions
            if p is not None
            for row in p.to_rows()
        ]
