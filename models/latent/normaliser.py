"""Per-dimension standardisation, the time scale and the windowing, fitted on a training set,
kept with a model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..series import Dataset, Series, TimeKind
from .base import FittedBase, calendar_companions, fit_base, residuals
from .windows import plan_windows

# The training series' median span maps to this many model time units.
DEFAULT_MODEL_SPAN = 5.0
# Below this a dimension is treated as constant: scaled by 1 instead of a tiny spread.
_MIN_STD = 1e-8
# A window's spread (in standardised units) is floored here, so a flat stretch of a series is not
# blown up into noise by instance scaling.
MIN_WINDOW_SPREAD = 0.05


@dataclass(frozen=True)
class Normaliser:
    """Maps values and times to the units the network sees, and back.

    Attributes:
        mean, std: per-dimension mean and standard deviation of the observed training values.
        time_scale: seconds (or time units) per model time unit: the median series span, or the
            window, is ``model_span`` model time units.
        time_kind: how the training data gave times; predictions answer in the same kind.
        window: the window length in the data's time units when long series are cut into
            windows (``models.latent.windows``), else None. Windowed models also scale every
            context by its own mean and spread (instance scaling).
        season: the season found in the training data (data time units), or None.
        base: True when a seasonal base (``models.latent.base``) at the season is fitted to every
            series and the network sees what it leaves (windowed data, steady season); mean and
            std are then those of the residuals.
        bends: the base's trend may change slope at knots (``models.latent.base``); False for a
            season that drifted, whose fixed harmonics misfit the history and the knots would
            follow that misfit (bench/experiments/long-series/README.md), and for models fitted
            before knots existed, which keep the line they were trained with.
        companions: calendar periods the base carries beside the season in datetime data
            (``models.latent.base.calendar_companions``; none for models fitted before them).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    time_scale: float
    time_kind: TimeKind
    window: float | None = None
    season: float | None = None
    base: bool = False
    bends: bool = False
    companions: tuple[float, ...] = ()

    @property
    def windowed(self) -> bool:
        return self.window is not None

    def fit_base(self, series: Series) -> FittedBase | None:
        """The seasonal base of ``series`` if this model uses one."""
        if not self.base or self.season is None:
            return None
        return fit_base(series, self.season, bends=self.bends, companions=self.companions)

    @classmethod
    def fit(
        cls,
        dataset: Dataset,
        model_span: float = DEFAULT_MODEL_SPAN,
        window: float | None = None,
    ) -> Normaliser:
        """Fit on ``dataset``; ``window`` overrides the window length chosen from the data."""
        plan = plan_windows(dataset, window)
        base_period = plan.season if plan.length is not None and plan.steady else None
        bends = base_period is not None and not plan.drifted
        companions = (
            ()
            if base_period is None
            else calendar_companions(max(dataset.series, key=len), dataset.time_kind, base_period)
        )
        series = dataset.series
        if base_period is not None:
            series = tuple(
                residuals(s, fit_base(s, base_period, bends=bends, companions=companions))
                for s in series
            )
        values = np.concatenate([s.values for s in series])
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0)
        std = np.where(std > _MIN_STD, std, 1.0)
        spans = [s.times[-1] - s.times[0] for s in dataset.series if len(s) > 1]
        median_span = float(np.median(spans)) if spans else 0.0
        unit_span = plan.length if plan.length is not None else median_span
        time_scale = unit_span / model_span if unit_span > 0 else 1.0
        return cls(
            tuple(float(x) for x in mean),
            tuple(float(x) for x in std),
            time_scale,
            dataset.time_kind,
            plan.length,
            plan.season,
            base_period is not None,
            bends,
            companions,
        )

    def values(self, raw: np.ndarray) -> np.ndarray:
        """Raw values [..., D] to standardised ones (NaN stays NaN)."""
        return (raw - np.asarray(self.mean)) / np.asarray(self.std)

    def raw_values(self, standardised: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Standardised values [..., D] in raw units (into ``out`` when given, which may be
        ``standardised`` itself).

        One dimension at a time: numpy broadcasts over a short last axis about 4x slower."""
        standardised = np.asarray(standardised)
        if standardised.shape[-1:] != (len(self.std),):
            raise ValueError(f"values of {len(self.std)} dimension(s), got {standardised.shape}")
        if out is None:
            out = np.empty(standardised.shape, np.result_type(standardised, np.float64))
        for d, (std, mean) in enumerate(zip(self.std, self.mean, strict=True)):
            column = out[..., d]
            # dtype: numpy 1.x would pick float32's loop for a float32 column
            np.multiply(standardised[..., d], np.float64(std), out=column, dtype=out.dtype)
            column += np.float64(mean)
        return out

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
            window=_optional_float(data.get("window")),
            season=_optional_float(data.get("season")),
            base=bool(data.get("base", False)),
            bends=bool(data.get("bends", False)),
            companions=tuple(float(x) for x in data.get("companions", ())),
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
