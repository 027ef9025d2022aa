"""Training tasks: a series (or a window of one) split into what the encoder reads and what the
decoder must reconstruct."""

from __future__ import annotations

import numpy as np

from ..series import Series
from .batching import Task
from .normaliser import MIN_WINDOW_SPREAD, Normaliser

# Fractions of a series' points the encoder reads when training on each job (sparse contexts
# for interpolation: a periodic family filled its gaps at 0.75x linear interpolation's error
# reading 10-50%, at 0.99x reading 20-80%).
INTERPOLATION_OBSERVED = (0.1, 0.5)
EXTRAPOLATION_OBSERVED = (0.3, 0.7)
# Windows of long series: a prediction reads every observation of its window, so training
# contexts reach that density too.
WINDOW_INTERPOLATION_OBSERVED = (0.2, 0.95)


def task(series: Series, normaliser: Normaliser, context: np.ndarray, targets: np.ndarray) -> Task:
    """The encoder reads ``series[context]`` (sorted indices); the decoder answers at targets."""
    values = normaliser.values(series.values)
    return prediction_task(
        Series(series.id, series.times[context], series.values[context]),
        normaliser,
        series.times[targets],
        values[targets],
    )


def prediction_task(
    context: Series,
    normaliser: Normaliser,
    target_times: np.ndarray,
    target_values: np.ndarray | None = None,
) -> Task:
    """A task whose context is ``context`` (raw) and whose targets are ``target_times`` (raw, any
    order) with their standardised values when known; instance-scaled for windowed models.
    Model time 0 is the context's first observation."""
    reference = context.times[0]
    plain = Task(
        context_times=normaliser.times(context.times, reference),
        context_values=normaliser.values(context.values),
        target_times=normaliser.times(target_times, reference),
        target_values=target_values,
    )
    return plain.scaled(MIN_WINDOW_SPREAD) if normaliser.windowed else plain


def training_task(series: Series, normaliser: Normaliser, rng: np.random.Generator) -> Task:
    """Half the time interpolation (a random subset observed), half extrapolation (a prefix);
    either way the decoder reconstructs every point of the series."""
    n = len(series)
    everything = np.arange(n)
    if rng.random() < 0.5:
        fractions = WINDOW_INTERPOLATION_OBSERVED if normaliser.windowed else INTERPOLATION_OBSERVED
        k = count(n, rng.uniform(*fractions))
        context = np.sort(rng.choice(n, size=k, replace=False))
    else:
        context = np.arange(count(n, rng.uniform(*EXTRAPOLATION_OBSERVED)))
    return task(series, normaliser, context, everything)


def count(n: int, fraction: float) -> int:
    """How many of n points a fraction keeps: at least one, and one fewer than all when n > 1."""
    return int(min(max(1, round(n * fraction)), max(1, n - 1)))
