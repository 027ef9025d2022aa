"""The two jobs a user asks for, as tasks: interpolation and extrapolation of a series."""

from __future__ import annotations

import numpy as np

from ..series import Series
from .batching import Task
from .normaliser import Normaliser

# Fractions of a series' points the encoder reads when training on each job. Sparse contexts
# for interpolation: (0.2, 0.8) left periodic at 0.99x linear interpolation, (0.1, 0.5) at 0.75x.
INTERPOLATION_OBSERVED = (0.1, 0.5)
EXTRAPOLATION_OBSERVED = (0.3, 0.7)
# Validation, as the quality benchmark measures: 20% of points observed, or the first half.
VALIDATION_INTERPOLATION_OBSERVED = 0.2
VALIDATION_EXTRAPOLATION_OBSERVED = 0.5


def task_from_indices(
    series: Series, normaliser: Normaliser, context: np.ndarray, targets: np.ndarray
) -> Task:
    """The encoder reads ``series[context]`` (sorted indices); the decoder answers at targets."""
    values = normaliser.values(series.values)
    reference = series.times[context[0]]
    return Task(
        context_times=normaliser.times(series.times[context], reference),
        context_values=values[context],
        target_times=normaliser.times(series.times[targets], reference),
        target_values=values[targets],
    )


def training_task(series: Series, normaliser: Normaliser, rng: np.random.Generator) -> Task:
    """Half the time interpolation (a random subset observed), half extrapolation (a prefix);
    either way the decoder reconstructs every point of the series."""
    n = len(series)
    everything = np.arange(n)
    if rng.random() < 0.5:
        k = _count(n, rng.uniform(*INTERPOLATION_OBSERVED))
        context = np.sort(rng.choice(n, size=k, replace=False))
    else:
        context = np.arange(_count(n, rng.uniform(*EXTRAPOLATION_OBSERVED)))
    return task_from_indices(series, normaliser, context, everything)


def interpolation_task(series: Series, normaliser: Normaliser, rng: np.random.Generator) -> Task:
    """20% of the points observed at random; the decoder answers at the others."""
    n = len(series)
    context = np.sort(
        rng.choice(n, size=_count(n, VALIDATION_INTERPOLATION_OBSERVED), replace=False)
    )
    others = np.setdiff1d(np.arange(n), context)
    return task_from_indices(series, normaliser, context, others if others.size else context)


def extrapolation_task(series: Series, normaliser: Normaliser) -> Task:
    """The first half observed; the decoder answers at the second half."""
    n = len(series)
    k = _count(n, VALIDATION_EXTRAPOLATION_OBSERVED)
    later = np.arange(k, n)
    return task_from_indices(
        series, normaliser, np.arange(k), later if later.size else np.arange(k)
    )


def _count(n: int, fraction: float) -> int:
    """How many of n points a fraction keeps: at least one, and one fewer than all when n > 1."""
    return int(min(max(1, round(n * fraction)), max(1, n - 1)))
