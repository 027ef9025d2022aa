"""The latent ODE as the quality benchmarks use it: trained with the service's defaults except a
training seed and a time budget, predicting held-out times as a ``Forecast``; progress on stderr.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
from quality_scores import QUANTILE_LEVELS, Forecast

from models.latent.model import ModelConfig
from models.latent.predict import predict
from models.latent.train import Config, Progress, TrainedModel, TrainingConfig, train
from models.series import Dataset, Series

PROGRESS_EVERY = 10  # epochs


def train_model(
    name: str, dataset: Dataset, model: ModelConfig, *, seed: int, seconds: float, device: str
) -> TrainedModel:
    """Train ``model`` on ``dataset`` with the default ``TrainingConfig`` except its seed and its
    time budget (training stops after the epoch that passes it)."""
    training = replace(TrainingConfig(), seed=seed, max_seconds=seconds)
    label = f"{name} seed {seed}"

    def report(p: Progress) -> None:
        if p.epoch == 1 or p.epoch % PROGRESS_EVERY == 0:
            log(
                f"[{label}] epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} val interp "
                f"{p.val_interp_mse:.4f} extrap {p.val_extrap_mse:.4f} (standardised) "
                f"{p.elapsed_s:.0f}s"
            )

    config = Config(model=model, training=training)
    trained = train(config, dataset, on_progress=report, device=device)
    m = trained.metrics
    log(
        f"[{label}] done: {m['epochs_run']:.0f} epochs in {m['train_seconds']:.0f}s, best epoch "
        f"{m.get('best_epoch', float('nan')):.0f}"
    )
    return trained


def latent_forecast(
    trained: TrainedModel, context: Series, times: np.ndarray, *, n_samples: int, seed: int
) -> Forecast:
    """The predictive mean [Q, D] and ``QUANTILE_LEVELS`` quantiles at ``times`` [Q] from the
    observed rows in ``context``."""
    answer = predict(
        trained, context, times, n_samples=n_samples, quantiles=QUANTILE_LEVELS, seed=seed
    )
    return Forecast(answer.mean, answer.quantiles)


def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)
