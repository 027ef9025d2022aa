"""Batches: padded backward contexts, one pooled target grid, every target row indexed into it."""

from __future__ import annotations

import numpy as np
import torch

from models.latent.batching import Task, make_batch


def task(context_times, context_values, target_times, target_values=None) -> Task:
    return Task(
        np.asarray(context_times, dtype=float),
        np.asarray(context_values, dtype=float),
        np.asarray(target_times, dtype=float),
        None if target_values is None else np.asarray(target_values, dtype=float),
    )


def test_contexts_are_read_backwards_with_values_masks_and_gaps():
    batch = make_batch(
        [
            task([0.0, 0.5, 2.0], [[1.0, np.nan], [2.0, 3.0], [np.nan, 4.0]], [1.0], [[0.0, 0.0]]),
            task([0.0], [[5.0, 6.0]], [1.0], [[0.0, 0.0]]),
        ],
        torch.device("cpu"),
        torch.float64,
    )
    first = batch.encoder_inputs[0].numpy()
    # Last observation first: values (0 where missing), mask, gap to the later observation.
    np.testing.assert_array_equal(first[0], [0.0, 4.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(first[1], [2.0, 3.0, 1.0, 1.0, 1.5])
    np.testing.assert_array_equal(first[2], [1.0, 0.0, 1.0, 0.0, 0.5])
    np.testing.assert_array_equal(batch.encoder_inputs[1, 1:].numpy(), 0.0)  # padding
    assert batch.context_lengths.tolist() == [3, 1]


def test_targets_share_one_sorted_grid_and_index_into_it():
    batch = make_batch(
        [
            task([0.0], [[1.0]], [2.0, -1.0, 0.5], [[1.0], [2.0], [np.nan]]),
            task([0.0], [[1.0]], [0.5, 3.0], [[4.0], [5.0]]),
        ],
        torch.device("cpu"),
        torch.float32,
    )
    np.testing.assert_array_equal(batch.grid, [-1.0, 0.5, 2.0, 3.0])
    assert batch.target_series.tolist() == [0, 0, 0, 1, 1]
    np.testing.assert_array_equal(batch.grid[batch.target_grid.numpy()], [2.0, -1.0, 0.5, 0.5, 3.0])
    assert batch.target_mask[:, 0].tolist() == [True, True, False, True, True]
    assert batch.target_values[2, 0] == 0.0  # missing entries are zero, and masked out


def test_prediction_batches_have_no_target_values():
    batch = make_batch(
        [task([0.0, 1.0], [[1.0], [2.0]], [0.5, 4.0])], torch.device("cpu"), torch.float32
    )
    assert batch.target_values.shape == (0, 1)
    assert batch.target_grid.tolist() == [0, 1]
