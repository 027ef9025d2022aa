"""What the store writes, as bytes: ids, records and data sets as JSON. Shared by its backends."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import numpy as np

from ..series import ID_PATTERN, Dataset, Series, TimeKind
from .errors import CorruptFileError
from .record import ModelRecord

RECORD_FILE = "record.json"
DATASET_FILE = "dataset.json"
TRAINING_DIR = "training"
TRAINED_DIR = "trained"
VERSIONS_DIR = "versions"  # a refitted model's later versions: versions/<n>/, laid out alike


def version_folder(version: int) -> str:
    """Where a model's version keeps its data set and checkpoints, inside the model's folder:
    the folder itself for version 1 (every model's first fit), ``versions/<n>`` for later ones."""
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"a model version is a positive integer, not {version!r}")
    return "" if version == 1 else f"{VERSIONS_DIR}/{version}"


DATASET_FORMAT = "odecast-dataset"


def check_id(value: str, what: str = "id") -> str:
    """``value`` if it is a valid id, else ValueError naming the rule."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not valid: use 1 to 64 letters, digits, '_' or '-'")
    return value


def new_id(prefix: str) -> str:
    """A fresh random id such as ``m-1f3a...`` (valid under ``ID_PATTERN``)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def dataset_to_json(dataset: Dataset) -> dict[str, Any]:
    """A data set as JSON: times as numbers (POSIX seconds for datetimes), null where missing."""
    return {
        "format": DATASET_FORMAT,
        "time_kind": str(dataset.time_kind),
        "series": [
            {
                "id": s.id,
                "times": s.times.tolist(),
                "values": [[None if math.isnan(v) else v for v in r] for r in s.values.tolist()],
            }
            for s in dataset.series
        ],
    }


def dataset_from_json(data: dict[str, Any]) -> Dataset:
    """The inverse of ``dataset_to_json``."""
    if data.get("format") != DATASET_FORMAT:
        raise CorruptFileError(f"not an odecast data set (format {data.get('format')!r})")
    series = tuple(
        Series(
            id=s["id"],
            times=np.asarray(s["times"], dtype=np.float64),
            values=np.asarray(
                [[math.nan if v is None else v for v in row] for row in s["values"]],
                dtype=np.float64,
            ),
        )
        for s in data["series"]
    )
    return Dataset(series=series, time_kind=TimeKind(data["time_kind"]))


def dumps(data: dict[str, Any]) -> bytes:
    """A record or data set as the store writes it."""
    return json.dumps(data, indent=1, allow_nan=False).encode()


def loads(raw: bytes, name: str, model_id: str) -> dict[str, Any]:
    """The JSON object in ``raw`` (file ``name`` of a model), or CorruptFileError."""
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise CorruptFileError(f"{name} of model {model_id!r} is not valid JSON") from err
    if not isinstance(data, dict):
        raise CorruptFileError(f"{name} of model {model_id!r} is not a JSON object")
    return data


def sort_records(records: list[ModelRecord]) -> list[ModelRecord]:
    """Records oldest first (by ``created_at``, then id), as every listing returns them."""
    return sorted(records, key=lambda r: (r.created_at, r.model_id))
