"""Tasks and batches: what the encoder reads and where the decoder is asked, as tensors.

A task is one series split in two: the context (observations the encoder reads) and the targets
(times the decoder must answer, with their true values when training). All times are model
times measured from the context's first observation, where z0 sits; targets may lie before it.
A batch pools the targets' times of all its series into one sorted grid: in training the
decoder solves once over the grid and the solver's dense output makes its thousands of points
nearly free; in prediction each target row is decoded for its own series only
(``LatentODE.predict_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Task:
    """One series for the model, in standardised values and model time.

    Attributes:
        context_times: [Tc] increasing, context_times[0] == 0.
        context_values: [Tc, D], NaN where not observed; every row has an observed entry.
        target_times: [Tt] model times the decoder must answer (any order, any sign).
        target_values: [Tt, D] true values (NaN where not observed), or None when predicting.
        center, spread: [D] what ``scaled`` subtracted from and divided the values by (the
            context's own mean and spread), or None when the values are not instance-scaled.
    """

    context_times: np.ndarray
    context_values: np.ndarray
    target_times: np.ndarray
    target_values: np.ndarray | None = None
    center: np.ndarray | None = None
    spread: np.ndarray | None = None

    def scaled(self, min_spread: float) -> Task:
        """The task with its values scaled by its context's own per-dimension mean and spread
        (at least ``min_spread``; 0 and 1 for a dimension the context never observes)."""
        observed = ~np.isnan(self.context_values)
        seen = observed.any(axis=0)
        filled = np.where(observed, self.context_values, 0.0)
        count = np.maximum(observed.sum(axis=0), 1)
        center = np.where(seen, filled.sum(axis=0) / count, 0.0)
        deviation = np.where(observed, self.context_values - center, 0.0)
        spread = np.sqrt((deviation**2).sum(axis=0) / count)
        spread = np.where(seen, np.maximum(spread, min_spread), 1.0)
        targets = None if self.target_values is None else (self.target_values - center) / spread
        return Task(
            self.context_times,
            (self.context_values - center) / spread,
            self.target_times,
            targets,
            center,
            spread,
        )


@dataclass(frozen=True)
class Batch:
    """B tasks as tensors. Contexts run backwards (last observation first), padded at the end.

    Attributes:
        encoder_inputs: [B, Tc_max, 2D + 1]: values (0 where missing), mask, and the model-time
            gap to the previously read (later) observation; zeros after each context's length.
        context_lengths: [B] on the CPU (for packing).
        grid: [G] float64 sorted unique target times (NumPy, for the solver).
        target_series, target_grid: [N] long: the series and grid index of each target row.
        target_values, target_mask: [N, D]: values (0 where missing) and the observed entries;
            empty tensors when predicting.
        centers, spreads: [B, D] each task's instance scaling (0 and 1 when unscaled).
    """

    encoder_inputs: torch.Tensor
    context_lengths: torch.Tensor
    grid: np.ndarray
    target_series: torch.Tensor
    target_grid: torch.Tensor
    target_values: torch.Tensor
    target_mask: torch.Tensor
    centers: torch.Tensor
    spreads: torch.Tensor

    @property
    def size(self) -> int:
        return self.encoder_inputs.shape[0]

    @property
    def context_stats(self) -> torch.Tensor:
        """[B, 2D]: each context's center and log spread, what instance scaling took away."""
        return torch.cat([self.centers, torch.log(self.spreads)], dim=-1)

    def unscale(self, predicted: torch.Tensor) -> torch.Tensor:
        """Target rows [..., N, D] from instance-scaled to standardised units."""
        rows = self.target_series
        return predicted * self.spreads[rows] + self.centers[rows]


def make_batch(tasks: list[Task], device: torch.device, dtype: torch.dtype) -> Batch:
    """Pad the contexts, pool the target times, and index every target row into the grid."""
    dims = tasks[0].context_values.shape[1]
    longest = max(len(task.context_times) for task in tasks)
    inputs = np.zeros((len(tasks), longest, 2 * dims + 1))
    for b, task in enumerate(tasks):
        inputs[b, : len(task.context_times)] = _encoder_rows(task)
    grid, inverse = np.unique(
        np.concatenate([task.target_times for task in tasks]), return_inverse=True
    )
    series = np.concatenate([np.full(len(task.target_times), b) for b, task in enumerate(tasks)])
    if tasks[0].target_values is not None:
        values = np.concatenate([task.target_values for task in tasks])
    else:
        values = np.empty((0, dims))
    mask = ~np.isnan(values)
    centers = np.stack([np.zeros(dims) if t.center is None else t.center for t in tasks])
    spreads = np.stack([np.ones(dims) if t.spread is None else t.spread for t in tasks])

    def tensor(array: np.ndarray, kind: torch.dtype = dtype) -> torch.Tensor:
        return torch.as_tensor(array, dtype=kind, device=device)

    return Batch(
        encoder_inputs=tensor(inputs),
        context_lengths=torch.tensor([len(task.context_times) for task in tasks]),
        grid=grid,
        target_series=tensor(series, torch.long),
        target_grid=tensor(inverse.reshape(-1), torch.long),
        target_values=tensor(np.nan_to_num(values)),
        target_mask=tensor(mask),
        centers=tensor(centers),
        spreads=tensor(spreads),
    )


def _encoder_rows(task: Task) -> np.ndarray:
    """The context read backwards: [values or 0, mask, gap to the later observation]."""
    values = task.context_values[::-1]
    mask = ~np.isnan(values)
    times = task.context_times[::-1]
    gaps = np.concatenate([[0.0], times[:-1] - times[1:]])
    return np.concatenate([np.nan_to_num(values), mask, gaps[:, None]], axis=1)
