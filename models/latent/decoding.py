"""Answers for many (context, times) requests from one encoder pass and one solve.

Every request is split into its prediction groups (``models.latent.windows``: the whole series,
or the window around each time), every group becomes a task, and all tasks go through the model
as one batch; the answers are put back in each request's order. Validation, the skill figures and
``predict`` all go through here, so they see the model exactly as a user does. Every request
draws its noise from its own generator, seeded by its own seed, so its answer does not depend on
the other requests it is decoded with (up to the adaptive solver's tolerance: the batch shares
one solve).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..series import Series
from .base import FittedBase, residuals
from .batching import Task, make_batch
from .model import LatentODE
from .normaliser import Normaliser
from .tasks import prediction_task
from .windows import prediction_groups


@dataclass(frozen=True)
class Request:
    """Predict ``series`` at ``times`` [T] (raw, any order, no duplicates needed), drawing the
    samples' noise from a generator seeded by ``seed``."""

    series: Series
    times: np.ndarray
    seed: int = 0


def decode(
    model: LatentODE,
    normaliser: Normaliser,
    requests: list[Request],
    *,
    n_samples: int,
    extrapolate_with_base: bool = False,
) -> list[np.ndarray]:
    """Answers in the data's units, one [S, T, D] array per request, T in the request's order.

    ``n_samples`` 0 gives the decoder's output at the posterior mean of z0 ([1, T, D], no
    observation noise); otherwise S posterior predictive samples (z0 sampled, noise added).
    A model with a seasonal base fits it to each request's series and adds it back;
    ``extrapolate_with_base`` answers times after the series with the base alone (and the
    residuals' spread as its noise).
    """
    tasks: list[Task] = []
    owners: list[tuple[int, np.ndarray]] = []  # per task: its request and the times it answers
    bases = [normaliser.fit_base(request.series) for request in requests]
    for index, (request, base) in enumerate(zip(requests, bases, strict=True)):
        series = request.series if base is None else residuals(request.series, base)
        for group in prediction_groups(series, request.times, normaliser.window):
            tasks.append(prediction_task(group.context, normaliser, request.times[group.positions]))
            owners.append((index, group.positions))
    device = next(model.parameters()).device
    generators = [torch.Generator(device=device).manual_seed(r.seed) for r in requests]
    per_request = np.bincount([index for index, _ in owners], minlength=len(requests))
    rows = _decode_tasks(model, tasks, n_samples, generators, per_request)  # [S, N, D]
    answers = [np.empty((rows.shape[0], len(r.times), model.dims)) for r in requests]
    start = 0
    for (index, positions), task in zip(owners, tasks, strict=True):
        stop = start + len(task.target_times)
        answers[index][:, _as_slice(positions)] = rows[:, start:stop]
        start = stop
    for request, base, answer, generator in zip(requests, bases, answers, generators, strict=True):
        normaliser.raw_values(answer, out=answer)
        if base is None:
            continue
        answer += base(request.times)
        if extrapolate_with_base:
            after = request.times > request.series.times[-1]
            answer[:, after] = _base_alone(
                base, normaliser, request.times[after], n_samples, generator
            )
    return answers


def _base_alone(
    base: FittedBase,
    normaliser: Normaliser,
    times: np.ndarray,
    n_samples: int,
    generator: torch.Generator,
) -> np.ndarray:
    """The base at ``times`` [T], with the residuals' spread as noise when sampling: [S, T, D]."""
    values = base(times)[None]
    if n_samples == 0:
        return values
    noise = torch.randn(
        (n_samples, *values.shape[1:]),
        generator=generator,
        dtype=torch.float64,
        device=generator.device,
    )
    return values + noise.cpu().numpy() * np.asarray(normaliser.std)


def _decode_tasks(
    model: LatentODE,
    tasks: list[Task],
    n_samples: int,
    generators: list[torch.Generator],
    tasks_per_request: np.ndarray,
) -> np.ndarray:
    """All tasks' target rows, in task order, standardised: [S, N, D]. The tasks of request r
    are contiguous, ``tasks_per_request[r]`` of them, and draw from ``generators[r]``."""
    parameter = next(model.parameters())
    device = parameter.device
    with torch.no_grad():
        batch = make_batch(tasks, device, parameter.dtype)
        mean, std = model.posterior(batch)  # [B, L]
        if n_samples == 0:
            z0 = mean.unsqueeze(0)
        else:
            shapes = [(n_samples, int(count), mean.shape[1]) for count in tasks_per_request]
            z0 = mean + std * _draws(generators, shapes, mean)  # [S, B, L]
        predicted = model.predict_targets(batch, z0)  # [S, N, D], instance units
        if n_samples > 0:
            targets = np.zeros(len(generators), dtype=int)
            np.add.at(
                targets, _owner_of_tasks(tasks_per_request), [len(t.target_times) for t in tasks]
            )
            shapes = [(n_samples, int(count), model.dims) for count in targets]
            predicted = predicted + torch.exp(model.log_noise) * _draws(generators, shapes, mean)
        # contiguous: the samples' axis innermost in memory slows every numpy step after
        return batch.unscale(predicted).double().contiguous().cpu().numpy()


def _as_slice(positions: np.ndarray) -> slice | np.ndarray:
    """``positions`` as a slice when they run in order without a gap (one group answers a whole
    request): numpy copies a slice several times faster than it scatters by index."""
    if len(positions) and bool(np.all(np.diff(positions) == 1)):
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions


def _owner_of_tasks(tasks_per_request: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(tasks_per_request)), tasks_per_request)


def _draws(
    generators: list[torch.Generator], shapes: list[tuple[int, int, int]], like: torch.Tensor
) -> torch.Tensor:
    """Standard normal draws, request r's of ``shapes[r]`` from ``generators[r]``, joined on
    dimension 1."""
    parts = [
        torch.randn(shape, generator=g, device=like.device, dtype=like.dtype)
        for g, shape in zip(generators, shapes, strict=True)
    ]
    return torch.cat(parts, dim=1)
