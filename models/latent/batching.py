"""Tasks and batches: what the encoder reads and where the decoder is asked, as tensors.

A task is one series split in two: the context (observations the encoder reads) and the targets
(times the decoder must answer, with their true values when training). All times are model
times measured from the context's first observation, where z0 sits; targets may lie before it.
A batch pools the targets' times of all its series into one sorted grid: the decoder solves
once over the grid and the solver's dense output makes its thousands of points nearly free.
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
    """

    context_times: np.ndarray
    context_values: np.ndarray
    target_times: np.ndarray
    target_values: np.ndarray | None = None


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
    """

    encoder_inputs: torch.Tensor
    context_lengths: torch.Tensor
    grid: np.ndarray
    target_series: torch.Tensor
    target_grid: torch.Tensor
    target_values: torch.Tensor
    target_mask: torch.Tensor

    @property
    def size(self) -> int:
        return self.encoder_inputs.shape[0]


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
        values = np.concatenate([task.target_values for task in tasks])  # type: ignore[misc]
    else:
        values = np.empty((0, dims))
    mask = ~np.isnan(values)

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
    )


def _encoder_rows(task: Task) -> np.ndarray:
    """The context read backwards: [values or 0, mask, gap to the later observation]."""
    values = task.context_values[::-1]
    mask = ~np.isnan(values)
    times = task.context_times[::-1]
    gaps = np.concatenate([[0.0], times[:-1] - times[1:]])
    return np.concatenate([np.nan_to_num(values), mask, gaps[:, None]], axis=1)
