"""``train``: fit a latent ODE to a data set, with validation, early stopping and resumption.

Deterministic under the seed: every epoch draws its batches and noise from generators seeded by
(seed, epoch), so a run resumed at an epoch boundary repeats exactly what the uninterrupted run
would have done, with no random state to save.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..series import Dataset, Series
from .batching import Task, make_batch
from .model import LatentODE, ModelConfig
from .normaliser import Normaliser
from .tasks import extrapolation_task, interpolation_task, training_task


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. The defaults are meant for a caller who sends only the data set.

    Attributes:
        epochs: passes over the training series (early stopping may end sooner).
        batch_size: series per batch.
        lr: AdamW's learning rate, decayed by a cosine over the epochs to lr_floor * lr.
        max_seconds: wall-clock budget; training stops after the epoch that passes it.
        seed: everything random derives from it.
        val_fraction: series held out for validation and early stopping.
        n_samples: posterior samples of z0 per series and batch.
        iwae: use the importance-weighted bound over the samples instead of the ELBO.
        kl_warmup_epochs: the KL term's weight grows linearly from 0 to 1 over these epochs.
        clip_norm: gradient norm clipping.
        patience: epochs without a better validation error before stopping.
        weight_decay: AdamW's decoupled weight decay.
    """

    epochs: int = 600
    batch_size: int = 32
    lr: float = 5e-3
    lr_floor: float = 0.1
    max_seconds: float = 240.0
    seed: int = 0
    val_fraction: float = 0.2
    n_samples: int = 1
    iwae: bool = False
    kl_warmup_epochs: int = 10
    clip_norm: float = 5.0
    patience: int = 200
    weight_decay: float = 1e-5

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "n_samples", "patience")
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (0 < self.lr <= 1 and self.max_seconds > 0 and 0 <= self.val_fraction < 1):
            raise ValueError("lr must be in (0, 1], max_seconds > 0 and val_fraction in [0, 1)")


@dataclass(frozen=True)
class Config:
    """A model and how to train it."""

    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model.to_json(), "training": asdict(self.training)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        return cls(ModelConfig.from_json(data["model"]), TrainingConfig(**data["training"]))


@dataclass(frozen=True)
class Progress:
    """What ``on_progress`` receives after every epoch (errors in standardised units)."""

    epoch: int
    epochs: int
    loss: float
    val_interp_mse: float
    val_extrap_mse: float
    elapsed_s: float
    eta_s: float


@dataclass
class TrainingState:
    """Where training is: enough to resume it exactly at the next epoch.

    The tensors are the live ones: a checkpoint callback must copy or write them before
    returning.
    """

    epoch: int  # the next epoch to run
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    best_model: dict[str, torch.Tensor]
    best_val: float
    bad_epochs: int
    elapsed_s: float
    history: list[dict[str, float]]


@dataclass(frozen=True)
class TrainedModel:
    """A trained latent ODE with what it needs to answer in the data's units."""

    model: LatentODE
    normaliser: Normaliser
    config: Config
    metrics: dict[str, float]
    series_ids: tuple[str, ...]


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


def train(
    config: Config,
    dataset: Dataset,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    checkpoint: Callable[[TrainingState], None] | None = None,
    resume_from: TrainingState | None = None,
    device: torch.device | str | None = None,
    stop: Callable[[], bool] | None = None,
) -> TrainedModel:
    """Train ``config.model`` on ``dataset``; return the model with the best validation error.

    After every epoch: ``on_progress`` gets the figures, ``checkpoint`` the state (to save it if it
    wants), then training ends early if ``stop()`` says so (a cancelled or interrupted job).
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    training = config.training
    torch.manual_seed(training.seed)
    normaliser = Normaliser.fit(dataset, config.model.model_span)
    train_series, val_series = _split(dataset, training)
    model = LatentODE(config.model, dataset.dims).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.lr, weight_decay=training.weight_decay
    )
    state = _initial_state(model, optimizer) if resume_from is None else resume_from
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    started = time.monotonic() - state.elapsed_s
    first_epoch = state.epoch
    while state.epoch < training.epochs and state.bad_epochs < training.patience:
        epoch = state.epoch
        _set_learning_rate(optimizer, training, epoch)
        loss = _train_epoch(model, optimizer, train_series, normaliser, config, epoch, device)
        interp, extrap = validation_errors(model, val_series, normaliser, training.seed, device)
        score = interp + extrap
        if score < state.best_val:
            state.best_val, state.bad_epochs = score, 0
            state.best_model = copy.deepcopy(model.state_dict())
        else:
            state.bad_epochs += 1
        state.epoch = epoch + 1
        state.model, state.optimizer = model.state_dict(), optimizer.state_dict()
        state.elapsed_s = time.monotonic() - started
        state.history.append(
            {"epoch": epoch, "loss": loss, "val_interp_mse": interp, "val_extrap_mse": extrap}
        )
        if on_progress is not None:
            on_progress(_progress(state, training, loss, interp, extrap, first_epoch))
        if checkpoint is not None:
            checkpoint(state)
        if state.elapsed_s >= training.max_seconds or (stop is not None and stop()):
            break
    model.load_state_dict(state.best_model)
    metrics = _final_metrics(state)
    ids = tuple(s.id for s in dataset.series)
    return TrainedModel(model.eval(), normaliser, config, metrics, ids)


def validation_errors(
    model: LatentODE,
    series: list[Series],
    normaliser: Normaliser,
    seed: int,
    device: torch.device,
) -> tuple[float, float]:
    """Interpolation MSE (20% observed) and extrapolation MSE (first half observed), using the
    posterior mean of z0, in standardised units."""
    rng = np.random.default_rng([seed, 2**31 - 1])  # the same held-out points every epoch
    interp = [interpolation_task(s, normaliser, rng) for s in series]
    extrap = [extrapolation_task(s, normaliser) for s in series]
    return _mse(model, interp, device), _mse(model, extrap, device)


def _mse(model: LatentODE, tasks: list[Task], device: torch.device) -> float:
    with torch.no_grad():
        batch = make_batch(tasks, device, torch.float32)
        mean, _ = model.posterior(batch)
        predicted = model.predict_targets(batch, mean.unsqueeze(0))[0]
        squared = (predicted - batch.target_values) ** 2 * batch.target_mask
        return float(squared.sum() / batch.target_mask.sum().clamp(min=1))


def _train_epoch(
    model: LatentODE,
    optimizer: torch.optim.Optimizer,
    series: list[Series],
    normaliser: Normaliser,
    config: Config,
    epoch: int,
    device: torch.device,
) -> float:
    training = config.training
    rng = np.random.default_rng([training.seed, epoch])
    torch.manual_seed(training.seed * 1_000_003 + epoch)
    kl_weight = min(1.0, (epoch + 1) / max(1, training.kl_warmup_epochs))
    order = rng.permutation(len(series))
    losses = []
    model.train()
    for start in range(0, len(order), training.batch_size):
        chosen = order[start : start + training.batch_size]
        tasks = [training_task(series[i], normaliser, rng) for i in chosen]
        batch = make_batch(tasks, device, torch.float32)
        parts = model.loss(
            batch, n_samples=training.n_samples, kl_weight=kl_weight, iwae=training.iwae
        )
        if not torch.isfinite(parts.loss):
            raise TrainingDivergedError(
                f"the loss became {float(parts.loss.detach())} in epoch {epoch}: lower the "
                f"learning rate (now {optimizer.param_groups[0]['lr']:.3g}) or the solver "
                "tolerances, or check "
                "the data for extreme values"
            )
        optimizer.zero_grad(set_to_none=True)
        parts.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), training.clip_norm)
        optimizer.step()
        losses.append(float(parts.loss.detach()))
    model.eval()
    return float(np.mean(losses))


def _split(dataset: Dataset, training: TrainingConfig) -> tuple[list[Series], list[Series]]:
    """Held-out series for validation; with fewer than 2 series, validate on the training one."""
    series = list(dataset.series)
    n_val = round(len(series) * training.val_fraction)
    if len(series) < 2 or n_val == 0:
        return series, series
    order = np.random.default_rng([training.seed, 2**31 - 2]).permutation(len(series))
    val = [series[i] for i in order[:n_val]]
    return [series[i] for i in order[n_val:]], val


def _initial_state(model: LatentODE, optimizer: torch.optim.Optimizer) -> TrainingState:
    return TrainingState(
        epoch=0,
        model=copy.deepcopy(model.state_dict()),
        optimizer=copy.deepcopy(optimizer.state_dict()),
        best_model=copy.deepcopy(model.state_dict()),
        best_val=math.inf,
        bad_epochs=0,
        elapsed_s=0.0,
        history=[],
    )


def _set_learning_rate(
    optimizer: torch.optim.Optimizer, training: TrainingConfig, epoch: int
) -> None:
    """A cosine from lr to lr_floor * lr over the epochs; a function of the epoch alone."""
    progress = epoch / max(1, training.epochs - 1)
    factor = training.lr_floor + (1 - training.lr_floor) * 0.5 * (1 + math.cos(math.pi * progress))
    for group in optimizer.param_groups:
        group["lr"] = training.lr * factor


def _progress(
    state: TrainingState,
    training: TrainingConfig,
    loss: float,
    interp: float,
    extrap: float,
    first_epoch: int,
) -> Progress:
    done = state.epoch - first_epoch
    per_epoch = state.elapsed_s / max(1, state.epoch) if done else 0.0
    remaining = per_epoch * (training.epochs - state.epoch)
    eta = min(remaining, max(0.0, training.max_seconds - state.elapsed_s))
    return Progress(state.epoch, training.epochs, loss, interp, extrap, state.elapsed_s, eta)


def _final_metrics(state: TrainingState) -> dict[str, float]:
    if not state.history:
        return {"epochs_run": float(state.epoch), "train_seconds": state.elapsed_s}
    best = min(state.history, key=lambda h: h["val_interp_mse"] + h["val_extrap_mse"])
    return {
        "epochs_run": float(state.epoch),
        "best_epoch": best["epoch"],
        "val_interp_mse": best["val_interp_mse"],
        "val_extrap_mse": best["val_extrap_mse"],
        "train_seconds": state.elapsed_s,
    }
