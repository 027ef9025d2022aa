"""Training: determinism, exact resumption from a checkpoint on disk, progress, the NaN guard."""

from __future__ import annotations

import math

import pytest
import torch

from models.latent.model import ModelConfig
from models.latent.resume import load_training_state, save_training_state
from models.latent.train import Config, TrainingConfig, TrainingDivergedError, train
from models.synthetic import damped_oscillator


def tiny_config(**training) -> Config:
    model = ModelConfig(latent_dim=3, hidden_dim=16, encoder_dim=8)
    settings = {"epochs": 3, "batch_size": 4, "max_seconds": 600.0, "seed": 5}
    return Config(model, TrainingConfig(**{**settings, **training}))


def parameters(trained) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trained.model.parameters()])


def test_the_same_seed_gives_the_same_model():
    data = damped_oscillator(10, n_points=10, seed=0)
    a = train(tiny_config(), data, device="cpu")
    b = train(tiny_config(), data, device="cpu")
    assert torch.equal(parameters(a), parameters(b))
    c = train(tiny_config(seed=6), data, device="cpu")
    assert not torch.equal(parameters(a), parameters(c))


def test_resuming_from_a_checkpoint_on_disk_gives_the_uninterrupted_result(tmp_path):
    data = damped_oscillator(10, n_points=10, seed=0)
    config = tiny_config()
    uninterrupted = train(config, data, device="cpu")

    class Killed(Exception):
        pass

    def save_then_die_after_first_epoch(state):
        save_training_state(tmp_path, state, config, uninterrupted.normaliser)
        raise Killed  # as a worker killed right after its checkpoint

    with pytest.raises(Killed):
        train(config, data, checkpoint=save_then_die_after_first_epoch, device="cpu")
    state, saved_config, normaliser = load_training_state(tmp_path)
    assert state.epoch == 1 and normaliser == uninterrupted.normaliser
    assert saved_config.model == config.model
    resumed = train(config, data, resume_from=state, device="cpu")
    assert torch.equal(parameters(resumed), parameters(uninterrupted))
    assert resumed.metrics["epochs_run"] == 3


def test_progress_reports_every_epoch_with_a_finite_eta():
    data = damped_oscillator(8, n_points=10, seed=1)
    seen = []
    train(tiny_config(), data, on_progress=seen.append, device="cpu")
    assert [p.epoch for p in seen] == [1, 2, 3]
    assert all(math.isfinite(p.loss) and p.eta_s >= 0 and p.elapsed_s > 0 for p in seen)
    assert seen[-1].eta_s == 0.0


def test_a_diverging_loss_stops_with_a_clear_error():
    data = damped_oscillator(8, n_points=10, seed=2)
    poisoned = Config(
        ModelConfig(latent_dim=3, hidden_dim=16, encoder_dim=8, noise_std=1e-30, learn_noise=False),
        TrainingConfig(epochs=2, batch_size=4),
    )
    with pytest.raises(TrainingDivergedError, match="learning rate"):
        train(poisoned, data, device="cpu")


@pytest.mark.slow
def test_a_short_training_run_lowers_the_validation_error_well_below_an_untrained_model():
    """Falling objects (1-D, smooth): 60 epochs of the default model (about 25 s here; a count,
    not a time budget, so that a loaded machine gets the same result, only later)."""
    import numpy as np

    from models.latent.holdout import GAP_FOLDS, make_holdout
    from models.latent.train import fit_normaliser, new_model, validation_errors
    from models.synthetic import falling_object

    data = falling_object(60, seed=0)
    config = Config(training=TrainingConfig(epochs=60, max_seconds=600.0, seed=0))
    # Every one of another 20 series held out (val_fraction 1 - tiny keeps none for training).
    held_out = make_holdout(falling_object(20, seed=1), fit_normaliser(config, data), 0.999, 0)
    assert not held_out.train and len(held_out.extrapolation) == 20
    assert len(held_out.interpolation) == 20 and len(held_out.gaps) == 20 * GAP_FOLDS
    torch.manual_seed(0)
    normaliser = fit_normaliser(config, data)
    untrained = new_model(config, normaliser, data.dims).eval()
    before = validation_errors(untrained, normaliser, held_out)
    trained = train(config, data, device="cpu")
    after = validation_errors(trained.model, trained.normaliser, held_out)
    assert np.all(np.asarray(after) < 0.25 * np.asarray(before)), (before, after)


def test_the_default_learning_rate_depends_on_whether_the_data_are_windowed():
    from dataclasses import replace

    from models.latent.train import (
        SHORT_SERIES_LR,
        WINDOWED_LR,
        fit_normaliser,
        learning_rate,
    )

    config = Config(ModelConfig(latent_dim=2, hidden_dim=4, encoder_dim=4), TrainingConfig())
    short = fit_normaliser(config, damped_oscillator(8, seed=0))
    assert short.window is None
    windowed = replace(short, window=3.0)
    assert learning_rate(config.training, short) == SHORT_SERIES_LR == 1e-2
    assert learning_rate(config.training, windowed) == WINDOWED_LR == 5e-3
    given = replace(config.training, lr=0.02)
    assert learning_rate(given, short) == learning_rate(given, windowed) == 0.02
    with pytest.raises(ValueError, match="lr must be"):
        TrainingConfig(lr=0.0)
