"""``predict``: a series' values at any times, with uncertainty, from posterior samples of z0."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from ..series import Series
from .batching import Task, make_batch
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
    """Encode ``context`` and decode at ``times`` (raw times, any order, duplicates allowed)."""
    if not all(0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    times = np.asarray(times, dtype=np.float64)
    wanted, positions = np.unique(times, return_inverse=True)
    samples = _samples(trained, context, wanted, n_samples, seed)  # [S, T', D] standardised
    raw = trained.normaliser.raw_values(samples)[:, positions.reshape(-1)]
    first, last = context.times[0], context.times[-1]
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
    """Posterior predictive samples at sorted unique times, standardised: [S, T, D]."""
    model, normaliser = trained.model, trained.normaliser
    reference = context.times[0]
    task = Task(
        context_times=normaliser.times(context.times, reference),
        context_values=normaliser.values(context.values),
        target_times=normaliser.times(times, reference),
    )
    parameter = next(model.parameters())
    generator = torch.Generator(device=parameter.device).manual_seed(seed)
    with torch.no_grad():
        batch = make_batch([task], parameter.device, parameter.dtype)
        mean, std = model.posterior(batch)
        shape = (n_samples, *mean.shape)
        z0 = mean + std * torch.randn(shape, generator=generator, device=mean.device)
        predicted = model.predict_targets(batch, z0)  # [S, T, D]
        noise = torch.randn(predicted.shape, generator=generator, device=mean.device)
        observed = predicted + torch.exp(model.log_noise) * noise
    return observed.double().cpu().numpy()
