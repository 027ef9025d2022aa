"""Per-dimension standardisation and the time scale, fitted on a training set, kept with a model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..series import Dataset, TimeKind

# The training series' median span maps to this many model time units.
DEFAULT_MODEL_SPAN = 5.0
# Below this a dimension is treated as constant: scaled by 1 instead of a tiny spread.
_MIN_STD = 1e-8


@dataclass(frozen=True)
class Normaliser:
    """Maps values and times to the units the network sees, and back.

    Attributes:
        mean, std: per-dimension mean and standard deviation of the observed training values.
        time_scale: seconds (or time units) per model time unit.
        time_kind: how the training data gave times; predictions answer in the same kind.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    time_scale: float
    time_kind: TimeKind

    @classmethod
    def fit(cls, dataset: Dataset, model_span: float = DEFAULT_MODEL_SPAN) -> Normaliser:
        values = np.concatenate([s.values for s in dataset.series])
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0)
        std = np.where(std > _MIN_STD, std, 1.0)
        spans = [s.times[-1] - s.times[0] for s in dataset.series if len(s) > 1]
        median_span = float(np.median(spans)) if spans else 0.0
        time_scale = median_span / model_span if median_span > 0 else 1.0
        return cls(
            tuple(float(x) for x in mean),
            tuple(float(x) for x in std),
            time_scale,
            dataset.time_kind,
        )

    def values(self, raw: np.ndarray) -> np.ndarray:
        """Raw values [..., D] to standardised ones (NaN stays NaN)."""
        return (raw - np.asarray(self.mean)) / np.asarray(self.std)

    def raw_values(self, standardised: np.ndarray) -> np.ndarray:
        return standardised * np.asarray(self.std) + np.asarray(self.mean)

    def raw_scale(self, standardised_spread: np.ndarray) -> np.ndarray:
        """A spread (standard deviation) in standardised units, in raw units."""
        return standardised_spread * np.asarray(self.std)

    def times(self, raw: np.ndarray, reference: float) -> np.ndarray:
        """Raw times to model time measured from ``reference`` (a raw time)."""
        return (np.asarray(raw, dtype=np.float64) - reference) / self.time_scale

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Normaliser:
        return cls(
            mean=tuple(float(x) for x in data["mean"]),
            std=tuple(float(x) for x in data["std"]),
            time_scale=float(data["time_scale"]),
            time_kind=TimeKind(data["time_kind"]),
        )
