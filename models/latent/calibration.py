"""Calibration chosen on held-out points after training: how wide the intervals must be, how
much of a naive method's answer to blend in (``models.latent.blend``), and whether a seasonal base
forecasts better alone than with the ODE's residuals on top.

A variational posterior is famously overconfident, and how much depends on the data, so the
spread of the predictive samples around their mean is scaled, per job (interpolation,
extrapolation), by the factor that makes the central 80% and 90% intervals hold 80% and 90% of the
held-out observations.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..baselines import MEAN_REVERSION, fit_reversion
from ..series import Series
from .blend import (
    KRIGE,
    ExtrapolationBlend,
    InterpolationBlend,
    extrapolation_features,
    gap_widths,
    interpolation_features,
    neighbour_times,
    offsets,
    respread,
)
from .kriging import Kriged, Kriging

# Interval levels the scale is fitted to, and the factors tried.
LEVELS = (80, 90)
SCALES = np.geomspace(0.2, 20.0, 121)
# A gap wider than this many median spacings of a family's observations is a wide gap
# (``Calibration.gap_limit``): at least three missing observations in a row.
GAP_SPACINGS = 3.0


@dataclass(frozen=True)
class Calibration:
    """Per-model choices applied at prediction time.

    Attributes:
        interpolation_scale, extrapolation_scale: factors on the samples' deviation from their
            mean, for times inside and outside the context's range.
        extrapolate_with_base: forecast with the seasonal base alone (models with a base only).
        interpolation_blend: linear interpolation's share in the mean inside the context's range.
        extrapolation_blend: a naive forecast's share in the mean after the context's last time
            (times before its first are the model's alone: the naive methods look forward).
        extrapolation_floor: per dimension, the least variance of a forecast's samples, as a share
            of the variance of the context's observations (the held-out interpolation error, so
            measured): no forecast is surer than filling a gap. A held-out tail is one short
            stretch, and a lucky one (early stopping chose the epoch that did best on it) shrinks
            the fitted scale below the noise. Relative, so that a new series on another scale
            gets a floor on its own. None: no floor.
        kriging: the kernels of the interpolation blends' kriged answer; None when no blend
            leans on it (``models.latent.kriging``).
        wide_gap_blend, wide_gap_scale: the blend and interval scale of gaps wider than
            ``gap_limit`` (data time units, per dimension: ``blend.gap_widths``); the others
            take ``interpolation_blend`` and ``interpolation_scale``. A family of short series
            has both kinds to serve, a stored series missing a few points and a new one read
            from a few, and what fills the one best can fail the other. None: one blend.
    """

    interpolation_scale: float = 1.0
    extrapolation_scale: float = 1.0
    extrapolate_with_base: bool = False
    interpolation_blend: InterpolationBlend = field(default_factory=InterpolationBlend)
    extrapolation_blend: ExtrapolationBlend = field(default_factory=ExtrapolationBlend)
    extrapolation_floor: tuple[float, ...] | None = None
    kriging: Kriging | None = None
    wide_gap_blend: InterpolationBlend | None = None
    wide_gap_scale: float = 1.0
    gap_limit: float | None = None

    @property
    def interpolation_blends(self) -> tuple[InterpolationBlend, ...]:
        """The interpolation blends in use: one, or that of narrow gaps and that of wide ones."""
        if self.wide_gap_blend is None or self.gap_limit is None:
            return (self.interpolation_blend,)
        return (self.interpolation_blend, self.wide_gap_blend)

    def wide_gaps(self, context: Series, times: np.ndarray) -> np.ndarray:
        """[T, D]: which entries at ``times`` fill a gap wider than ``gap_limit`` (none with one
        blend)."""
        if self.wide_gap_blend is None or self.gap_limit is None:
            return np.zeros((len(times), context.dims), dtype=bool)
        widths = gap_widths(context, times)
        return np.isfinite(widths) & (widths > self.gap_limit)

    def times_needed(self, context: Series, times: np.ndarray) -> np.ndarray:
        """Sorted unique ``times`` [T], plus the observations around them when an
        interpolation blend needs the model's mean there: what ``blend`` reads."""
        if not any(b.active for b in self.interpolation_blends):
            return times
        return np.union1d(times, neighbour_times(context, times))

    def blend(
        self,
        known: np.ndarray,
        known_times: np.ndarray,
        context: Series,
        times: np.ndarray,
        season: float | None,
        fallback: np.ndarray,
    ) -> np.ndarray:
        """Samples [S, T, D] at ``times`` (sorted, unique) with the naive answers blended in,
        from samples ``known`` [S, K, D] at ``times_needed(context, times)`` = ``known_times``.

        Every sample moves by the same offset [T, D]; gaps and forecasts never share a time."""
        # np.take, not known[:, index]: numpy's fancy indexing along axis 1 returns the samples'
        # axis innermost in memory, and every later step over samples ran 3-7x slower on that.
        positions = np.searchsorted(known_times, times)
        samples = np.take(known, positions, axis=1)
        inside = (times >= context.times[0]) & (times <= context.times[-1])
        after = times > context.times[-1]
        extrapolation = self.extrapolation_blend
        blend_inside = any(b.active for b in self.interpolation_blends) and inside.any()
        blend_after = extrapolation.active and after.any()
        if not (blend_inside or blend_after):
            return samples
        known_mean = known.mean(axis=0)  # [K, D]
        offset = np.zeros(samples.shape[1:])  # [T, D]
        kriged = self._kriged(context, times[inside]) if blend_inside else None
        weights = self._interpolation_weights(context, times[inside]) if blend_inside else None
        if weights is not None:
            features = interpolation_features(
                context,
                times[inside],
                known_times,
                known_mean,
                None if kriged is None else kriged.mean,
            )
            offset[inside] = (weights * features).sum(axis=0)  # weights [K, Q, D]
        if blend_after:
            mean = known_mean[positions[after]]
            features = extrapolation_features(
                extrapolation, context, times[after], mean, season, fallback
            )
            offset[after] = offsets(features, (extrapolation.weight,))
        samples += offset
        if kriged is not None and weights is not None:
            respreading = np.compress(inside, samples, axis=1)  # contiguous, unlike [:, mask]
            samples[:, inside] = respread(respreading, kriged.variance, weights[KRIGE])
        return samples

    def _interpolation_weights(self, context: Series, times: np.ndarray) -> np.ndarray:
        """The interpolation blend's weights [K, T, D] of each entry at ``times`` (inside the
        context's range): the wide gaps' where ``wide_gaps``, the others' elsewhere."""
        narrow = np.asarray(self.interpolation_blend.weights)[:, None, None]
        shape = (len(narrow), len(times), context.dims)
        if self.wide_gap_blend is None:
            return np.broadcast_to(narrow, shape)
        wide = np.asarray(self.wide_gap_blend.weights)[:, None, None]
        return np.where(self.wide_gaps(context, times)[None], wide, narrow)

    def _kriged(self, context: Series, times: np.ndarray) -> Kriged | None:
        """The kriged answer at ``times`` when an interpolation blend leans on it."""
        if self.kriging is None or not any(b.krige for b in self.interpolation_blends):
            return None
        return self.kriging(context, times)

    def widen(
        self,
        samples: np.ndarray,
        extrapolating: np.ndarray,
        context: Series | None = None,
        times: np.ndarray | None = None,
    ) -> np.ndarray:
        """``samples`` [S, T, D] at ``times`` [T] with their spread scaled per time
        (``extrapolating`` [T]), and forecasts' spread raised to their floor (``_floor``)."""
        scale = np.where(extrapolating, self.extrapolation_scale, self.interpolation_scale)
        scale = np.broadcast_to(scale[:, None], samples.shape[1:])
        if context is not None and times is not None and self.wide_gap_blend is not None:
            wide = self.wide_gaps(context, times) & ~extrapolating[:, None]
            scale = np.where(wide, self.wide_gap_scale, scale)
        widened = widen(samples, scale[None])
        if context is None or not extrapolating.any():
            return widened
        floor = self._floor(context, None if times is None else times[extrapolating])
        if floor is None:
            return widened
        forecasts = np.compress(extrapolating, widened, axis=1)  # contiguous, unlike [:, mask]
        widened[:, extrapolating] = floored(forecasts, floor)
        return widened

    def _floor(self, context: Series, times: np.ndarray | None) -> np.ndarray | None:
        """The least variance of forecasts from ``context``, [D] or at ``times`` [T', D]: the
        held-out interpolation error's (``extrapolation_floor``, relative to the context's
        variance), and where the blend leans on the return to the mean, its weight squared
        times that AR(1) forecast's own variance, which grows with the horizon: the interval
        scale is fitted on the held-out tails, a short horizon, and on mean-reverting series
        forecast a season ahead the 80% intervals held 60-73%."""
        floors = []
        if self.extrapolation_floor is not None:
            floors.append(np.asarray(self.extrapolation_floor) * context_variance(context))
        blend = self.extrapolation_blend
        if times is not None and blend.baseline == MEAN_REVERSION and blend.weight > 0:
            floors.append(blend.weight**2 * reversion_spread(context, times))
        return functools.reduce(np.maximum, floors) if floors else None

    def to_json(self) -> dict[str, Any]:
        return {
            "interpolation_scale": self.interpolation_scale,
            "extrapolation_scale": self.extrapolation_scale,
            "extrapolate_with_base": self.extrapolate_with_base,
            "interpolation_blend": self.interpolation_blend.to_json(),
            "extrapolation_blend": self.extrapolation_blend.to_json(),
            "extrapolation_floor": (
                None if self.extrapolation_floor is None else list(self.extrapolation_floor)
            ),
            "kriging": None if self.kriging is None else self.kriging.to_json(),
            "wide_gap_blend": (
                None if self.wide_gap_blend is None else self.wide_gap_blend.to_json()
            ),
            "wide_gap_scale": self.wide_gap_scale,
            "gap_limit": self.gap_limit,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Calibration:
        if not data:
            return cls()
        return cls(
            float(data["interpolation_scale"]),
            float(data["extrapolation_scale"]),
            bool(data["extrapolate_with_base"]),
            InterpolationBlend.from_json(data.get("interpolation_blend")),
            ExtrapolationBlend.from_json(data.get("extrapolation_blend")),
            _floor(data.get("extrapolation_floor")),
            Kriging.from_json(data.get("kriging")),
            # models trained before wide gaps had their own blend have none
            InterpolationBlend.from_json(wide) if (wide := data.get("wide_gap_blend")) else None,
            float(data.get("wide_gap_scale", 1.0)),
            None if data.get("gap_limit") is None else float(data["gap_limit"]),
        )


def _floor(data: list[float] | None) -> tuple[float, ...] | None:
    """The stored floor; a non-finite entry (written by versions before 2026-12 when a
    dimension's held-out contexts were constant) is no floor."""
    if data is None:
        return None
    return tuple(x if math.isfinite(x) else 0.0 for x in map(float, data))


def context_variance(context: Series) -> np.ndarray:
    """The variance of each dimension's observations in ``context`` [D] (0 with fewer than 2)."""
    variance = np.zeros(context.dims)
    for d in range(context.dims):
        observed = context.values[~np.isnan(context.values[:, d]), d]
        if len(observed) >= 2:
            variance[d] = observed.var()
    return variance


def reversion_spread(context: Series, times: np.ndarray) -> np.ndarray:
    """The variance [T, D] at ``times`` of each dimension's AR(1) forecast from ``context``
    (``models.baselines.fit_reversion``; 0 in a dimension without observations)."""
    spread = np.zeros((len(times), context.dims))
    for d in range(context.dims):
        observed = ~np.isnan(context.values[:, d])
        if observed.any():
            reversion = fit_reversion(context.times[observed], context.values[observed, d])
            spread[:, d] = reversion.spread(times)
    return spread


def floored(samples: np.ndarray, floor: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """Samples [S, ..., D] whose variance per entry is at least ``floor`` [D]: deviations from
    the mean stretched where the spread is smaller, left alone elsewhere."""
    mean = samples.mean(axis=0, keepdims=True)
    variance = samples.var(axis=0, keepdims=True)
    stretch = np.sqrt(np.asarray(floor) / np.maximum(variance, 1e-300))
    return mean + np.maximum(stretch, 1.0) * (samples - mean)


def widen(samples: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """Samples [S, ...] moved away from (or towards) their mean by ``scale``."""
    mean = samples.mean(axis=0, keepdims=True)
    return mean + scale * (samples - mean)


def fit_scale(samples: np.ndarray, truth: np.ndarray) -> float:
    """The factor whose widened samples [S, M] cover ``truth`` [M] closest to the ``LEVELS``."""
    if truth.size == 0:
        return 1.0
    mean = samples.mean(axis=0)
    tails = np.array([(1 - level / 100) / 2 for level in LEVELS])  # [L]
    # A quantile of mean + scale * deviation is mean + scale * the deviation's quantile (scale
    # > 0), so one pass over the samples serves every scale: numpy's quantile for each of the
    # 121 scales was most of a fit's calibration time.
    lower, upper = np.split(np.quantile(samples - mean, np.concatenate([tails, 1 - tails]), 0), 2)
    miss = truth - mean  # [M]
    scales = SCALES[:, None, None]  # [K, 1, 1] against bounds [L, M]
    inside = (miss >= scales * lower) & (miss <= scales * upper)  # [K, L, M]
    misses = np.abs(inside.mean(axis=-1) - np.asarray(LEVELS) / 100).sum(axis=1)  # [K]
    return float(SCALES[int(np.argmin(misses))])


def coverage(samples: np.ndarray, truth: np.ndarray, level: float) -> float:
    """The share of ``truth`` [M] inside the central ``level``% interval of samples [S, M]."""
    tail = (1 - level / 100) / 2
    lower, upper = np.quantile(samples, [tail, 1 - tail], axis=0)
    return float(((truth >= lower) & (truth <= upper)).mean())


def cross_fitted(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Samples [S, M] widened honestly: each half of the entries (alternating) by the scale
    fitted on the other half, so that coverage measured on them is out of sample."""
    halves = np.arange(truth.size) % 2 == 0
    out = samples.copy()
    for half in (halves, ~halves):
        scale = fit_scale(samples[:, ~half], truth[~half])
        out[:, half] = widen(samples[:, half], scale)
    return out
