"""Decoding many requests at once: every requested time gets the answer of its own context."""

from __future__ import annotations

import numpy as np
import torch

from models.latent.decoding import Request, decode
from models.latent.model import LatentODE, ModelConfig
from models.latent.normaliser import Normaliser
from models.latent.windows import prediction_groups
from models.synthetic import drifting_oscillator


def test_a_windowed_request_puts_each_group_s_answers_at_its_own_times():
    dataset = drifting_oscillator(seed=0)
    series = dataset.series[0]
    normaliser = Normaliser.fit(dataset, window=4.0)
    torch.manual_seed(0)
    config = ModelConfig(latent_dim=3, hidden_dim=16, encoder_dim=8)
    model = LatentODE(config, dataset.dims, instance_scaled=True).eval()
    # unsorted, before, inside and after the series: groups interleave in the request's order
    times = np.random.default_rng(0).uniform(-1.0, 41.5, 40)
    groups = prediction_groups(series, times, normaliser.window)
    assert len(groups) > 3 and any(np.any(np.diff(g.positions) > 1) for g in groups)

    together = decode(model, normaliser, [Request(series, times)], n_samples=0)[0]  # [1, T, D]

    for group in groups:
        asked = times[group.positions]
        alone = decode(model, normaliser, [Request(group.context, asked)], n_samples=0)[0]
        np.testing.assert_allclose(together[:, group.positions], alone, rtol=1e-3, atol=1e-4)
