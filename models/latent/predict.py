"""``predict``: a series' values at any times, with uncertainty, from posterior samples of z0."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from ..series import Series
from .decoding import Request, decode
from .train import TrainedModel

DEFAULT_SAMPLES = 100
DEFAULT_QUANTILES = (0.1, 0.9)


class Kind(StrEnum):
    INTERPOLATION = "interpolation"  # within the observed time range
    EXTRAPOLATION = "extrapolation"  # before the first or after the last observation


@dataclass(frozen=True)
class Prediction:
    """Answers in the order the times were asked, in the data's units.

    Attributes:
        times: the requested times, [T].
        mean: predictive mean, [T, D].
        quantiles: quantile level -> values [T, D], from posterior samples of z0 plus the
            observation noise.
        kinds: interpolation or extrapolation, per time.
    """

    times: np.ndarray
    mean: np.ndarray
    quantiles: dict[float, np.ndarray]
    kinds: tuple[Kind, ...]


def predict(
    trained: TrainedModel,
    context: Series,
    times: np.ndarray,
    *,
    n_samples: int = DEFAULT_SAMPLES,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    seed: int = 0,
) -> Prediction:
    """Encode ``context`` and decode at ``times`` (raw times, any order, duplicates allowed);
    blend in the naive answers and widen the spread as the model's calibration says."""
    if not all(0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    times = np.asarray(times, dtype=np.float64)
    wanted, positions = np.unique(times, return_inverse=True)
    first, last = context.times[0], context.times[-1]
    calibration, normaliser = trained.calibration, trained.normaliser
    known_times = calibration.times_needed(context, wanted)
    known = _samples(trained, context, known_times, n_samples, seed)  # [S, K, D]
    fallback = np.asarray(normaliser.mean)
    samples = calibration.blend(known, known_times, context, wanted, normaliser.season, fallback)
    outside = (wanted < first) | (wanted > last)
    raw = calibration.widen(samples, outside)[:, positions.reshape(-1)]
    kinds = tuple(Kind.INTERPOLATION if first <= t <= last else Kind.EXTRAPOLATION for t in times)
    return Prediction(
        times=times,
        mean=raw.mean(axis=0),
        quantiles={q: np.quantile(raw, q, axis=0) for q in quantiles},
        kinds=kinds,
    )


def _samples(
    trained: TrainedModel, context: Series, times: np.ndarray, n_samples: int, seed: int
) -> np.ndarray:
    """Posterior predictive samples at sorted unique times, in the data's units: [S, T, D]."""
    parameter = next(trained.model.parameters())
    generator = torch.Generator(device=parameter.device).manual_seed(seed)
    request = Request(context, times)
    return decode(
        trained.model,
        trained.normaliser,
        [request],
        n_samples=n_samples,
        generator=generator,
        extrapolate_with_base=trained.calibration.extrapolate_with_base,
    )[0]
