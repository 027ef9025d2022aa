"""The model's mean blended with naive answers, by weights chosen on held-out points.

A forecast combination. Filling a gap, the mean becomes

    m + restore * (Ly - Lm) + straighten * (Lm - m) + krige * (G - m) + pchip * (P - m)

where ``m`` is the model's mean, ``Ly`` the straight line between the observations around the
time, ``Lm`` the straight line between the model's means at those observations, ``G`` the
kriged answer (``models.latent.kriging``; none without a kernel) and ``P`` the monotone cubic
through the observations (PCHIP: Fritsch and Carlson, 1980, as ``scipy`` builds it; it keeps a
curve's rises, falls and peaks where a spline would overshoot): ``restore`` 1 puts back the
residuals of the neighbouring observations (the model then only adds its shape between them),
``straighten`` 1 drops that shape, both at 1 is linear interpolation itself, ``krige`` 1 alone
is the kriged answer and ``pchip`` 1 alone the monotone cubic.
Forecasting, the mean moves ``weight`` of the way to the best naive forecast on the held-out
tail. Weights lie in [0, 1] and minimise the held-out squared error. Samples are moved, not
reshaped: each is shifted by the change of the mean, so the spread (and the calibrated interval)
stays the model's, except where the mean leans on the kriged answer, whose own variance then
shapes it (``respread``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..baselines import named, per_dimension
from ..series import Series

# Where the kriged answer's weight sits in an interpolation blend's weights.
KRIGE = 2


@dataclass(frozen=True)
class InterpolationBlend:
    """Weights of the neighbouring observations' residuals, of the straight line, of the
    kriged answer and of the monotone cubic (see above)."""

    restore: float = 0.0
    straighten: float = 0.0
    krige: float = 0.0
    pchip: float = 0.0

    def __post_init__(self) -> None:
        _check_weights(self.weights)

    @property
    def weights(self) -> tuple[float, float, float, float]:
        """In the order of ``interpolation_features``."""
        return (self.restore, self.straighten, self.krige, self.pchip)

    @property
    def active(self) -> bool:
        return any(self.weights)

    def to_json(self) -> dict[str, Any]:
        return {
            "restore": self.restore,
            "straighten": self.straighten,
            "krige": self.krige,
            "pchip": self.pchip,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> InterpolationBlend:
        if not data:
            return cls()
        # models trained before kriging or the monotone cubic existed have no weight for them
        return cls(
            float(data["restore"]),
            float(data["straighten"]),
            float(data.get("krige", 0)),
            float(data.get("pchip", 0)),
        )


@dataclass(frozen=True)
class ExtrapolationBlend:
    """The naive forecast (``models.baselines.named``) and its share of the mean."""

    baseline: str = "last_value"
    weight: float = 0.0

    def __post_init__(self) -> None:
        _check_weights((self.weight,))

    @property
    def active(self) -> bool:
        return self.weight != 0.0

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "weight": self.weight}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ExtrapolationBlend:
        if not data:
            return cls()
        return cls(str(data["baseline"]), float(data["weight"]))


def _check_weights(weights: tuple[float, ...]) -> None:
    if not all(0.0 <= w <= 1.0 for w in weights):
        raise ValueError(f"blend weights lie in [0, 1], got {weights}")


def neighbour_times(context: Series, query: np.ndarray) -> np.ndarray:
    """The observed times of ``context`` just before and after each ``query`` time inside its
    range, in any dimension: sorted, unique. The interpolation blend needs the mean there."""
    found = []
    for d in range(context.dims):
        observed = context.times[~np.isnan(context.values[:, d])]
        if len(observed) == 0:
            continue
        inside = query[(query >= observed[0]) & (query <= observed[-1])]
        after = np.searchsorted(observed, inside, side="left")
        found += [observed[after], observed[np.maximum(after - 1, 0)]]
    return np.unique(np.concatenate(found)) if found else np.empty(0)


def gap_widths(context: Series, query: np.ndarray) -> np.ndarray:
    """[Q, D]: per dimension, the time between the observations of ``context`` just before and
    just after each ``query`` time; 0 at an observed time, inf outside the observed range or in
    a dimension with no observation."""
    widths = np.full((len(query), context.dims), np.inf)
    for d in range(context.dims):
        observed = context.times[~np.isnan(context.values[:, d])]
        if len(observed) == 0:
            continue
        inside = (query >= observed[0]) & (query <= observed[-1])
        after = np.searchsorted(observed, query[inside], side="left")
        width = observed[after] - observed[np.maximum(after - 1, 0)]
        widths[inside, d] = np.where(observed[after] == query[inside], 0.0, width)
    return widths


def interpolation_features(
    context: Series,
    query: np.ndarray,
    known_times: np.ndarray,
    known_mean: np.ndarray,
    kriged: np.ndarray | None = None,
) -> np.ndarray:
    """[Ly - Lm, Lm - m, G - m, P - m] at ``query`` [Q]: [4, Q, D].

    ``known_times`` [K] (sorted, holding ``query`` and its ``neighbour_times``) and
    ``known_mean`` [K, D] are the model's mean there; ``kriged`` [Q, D] is the kriged answer
    ``G`` (``Kriged.mean``, NaN where a dimension is not kriged). Every feature is 0 in a
    dimension with no observation, or at a time outside its observed range; the third is 0
    without ``kriged`` and where it is NaN.
    """
    mean = known_mean[np.searchsorted(known_times, query)]  # [Q, D]
    line_y = mean.copy()
    line_m = mean.copy()
    towards = mean.copy() if kriged is None else np.where(np.isnan(kriged), mean, kriged)
    cubic = mean.copy()
    for d in range(context.dims):
        observed = ~np.isnan(context.values[:, d])
        times = context.times[observed]
        if len(times) == 0:
            continue
        inside = (query >= times[0]) & (query <= times[-1])
        at_observed = np.interp(times, known_times, known_mean[:, d])
        line_y[inside, d] = np.interp(query[inside], times, context.values[observed, d])
        line_m[inside, d] = np.interp(query[inside], times, at_observed)
        towards[~inside, d] = mean[~inside, d]
        if len(times) >= 2 and inside.any():
            cubic[inside, d] = PchipInterpolator(times, context.values[observed, d])(query[inside])
    return np.stack([line_y - line_m, line_m - mean, towards - mean, cubic - mean])


def respread(
    samples: np.ndarray, kriged_variance: np.ndarray | None, krige: float | np.ndarray
) -> np.ndarray:
    """Samples [S, ...] whose spread is that of the blend's mean: with a share ``krige`` (one,
    or [...] per entry) of the kriged answer, whose error has ``kriged_variance`` [...] (NaN:
    not kriged), the deviations from the mean are rescaled per entry to the variance
    (1 - w)^2 v_model + w^2 v_kriged, the two errors taken as independent. Without kriging, or
    where the samples have no spread, ``samples`` unchanged.

    A blend that leans on the kriged answer has the kriged answer's errors, which follow the
    gaps and the noise, not the model's spread (bench/experiments/kriging/README.md).
    """
    if kriged_variance is None or not np.any(krige):
        return samples
    mean = samples.mean(axis=0, keepdims=True)
    model_variance = samples.var(axis=0)
    mixed = (1 - krige) ** 2 * model_variance + krige**2 * kriged_variance
    usable = (model_variance > 0) & np.isfinite(mixed)
    stretch = np.where(usable, np.sqrt(mixed / np.where(usable, model_variance, 1.0)), 1.0)
    return mean + stretch[None] * (samples - mean)


def extrapolation_features(
    blend: ExtrapolationBlend,
    context: Series,
    query: np.ndarray,
    mean: np.ndarray,
    season: float | None,
    fallback: np.ndarray,
) -> np.ndarray:
    """[N - m] at ``query`` [Q] for the blend's naive forecast N and the mean ``m`` [Q, D]."""
    naive = per_dimension(named(blend.baseline, season), context, query, fallback)
    return (naive - mean)[None]


def shifted(samples: np.ndarray, features: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """Samples [S, ...] moved by ``offsets(features, weights)``."""
    if not any(weights):
        return samples
    return samples + offsets(features, weights)[None]


def offsets(features: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """sum_k weights[k] * features[k] (features [K, ...]): how far the blend moves the mean."""
    return np.tensordot(np.asarray(weights), features, axes=1)


def fit_weights(features: np.ndarray, residual: np.ndarray) -> tuple[float, ...]:
    """Weights in [0, 1] minimising |residual - sum_k w_k features[k]|^2 (features [K, M]).

    Box-constrained least squares by enumeration: each weight is free, 0 or 1 (3^K cases, K <= 4
    here), free ones solved by least squares and kept only when they land inside the box.
    """
    k = features.shape[0]
    best, best_error = (0.0,) * k, float(np.dot(residual, residual))
    for statuses in itertools.product(("free", 0.0, 1.0), repeat=k):
        weights = np.array([0.0 if s == "free" else s for s in statuses])
        free = [i for i, s in enumerate(statuses) if s == "free"]
        rest = residual - np.tensordot(weights, features, axes=1)
        if free:
            solved = np.linalg.lstsq(features[free].T, rest, rcond=None)[0]
            if not np.all((solved >= 0.0) & (solved <= 1.0)):
                continue
            weights[free] = solved
            rest = residual - np.tensordot(weights, features, axes=1)
        error = float(np.dot(rest, rest))
        if error < best_error:
            best, best_error = tuple(float(w) for w in weights), error
    return best


def cross_fitted_shift(
    samples: np.ndarray,
    features: np.ndarray,
    truth: np.ndarray,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    kriged_variance: np.ndarray | None = None,
) -> np.ndarray:
    """Samples [S, M] shifted honestly: each half of the entries (alternating) by the weights
    fitted on the other half (and on ``extra``'s features [K, E] and residuals [E], evidence
    that is not scored), so that errors measured on them are out of sample. With
    ``kriged_variance`` [M] (interpolation), each half is also ``respread`` by its weights."""
    halves = np.arange(truth.size) % 2 == 0
    residual = truth - samples.mean(axis=0)
    out = samples.copy()
    for half in (halves, ~halves):
        weights = fit_weights(*pooled(features[:, ~half], residual[~half], extra))
        moved = shifted(samples[:, half], features[:, half], weights)
        if kriged_variance is not None:
            moved = respread(moved, kriged_variance[half], weights[KRIGE])
        out[:, half] = moved
    return out


def pooled(
    features: np.ndarray, residual: np.ndarray, extra: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Features [K, M] and residuals [M] with ``extra``'s [K, E] and [E] appended."""
    if extra is None:
        return features, residual
    return np.concatenate([features, extra[0]], axis=1), np.concatenate([residual, extra[1]])
