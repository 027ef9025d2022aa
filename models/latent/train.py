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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..forecast.pipeline import Recipe
from ..series import Dataset, Series
from ..store.record import Stage
from .base import residuals
from .batching import make_batch
from .calibration import Calibration
from .decoding import Request, decode
from .holdout import HeldOut, Holdout, make_holdout
from .model import LatentODE, ModelConfig
from .normaliser import Normaliser
from .skill import assess
from .tasks import training_task
from .windows import training_windows

# The default learning rates (why: bench/experiments/model-defaults/README.md, section 3).
SHORT_SERIES_LR = 1e-2  # Adam's step size for unwindowed data (short series, families)
WINDOWED_LR = 5e-3  # for long series trained in windows


# A refit continues a trained model on its data plus a few points (why these values:
# bench/experiments/refits/README.md).
REFIT_EPOCH_SHARE = 0.25  # a refit runs this share of the epochs its parent ran
REFIT_MIN_EPOCHS = 10  # and at least this many


def refit_training(
    parent: TrainingConfig,
    epochs_run: float | None,
    normaliser: Normaliser,
    changes: dict[str, Any],
    share: float = REFIT_EPOCH_SHARE,
) -> TrainingConfig:
    """A refit's training: its parent's, for ``share`` of the epochs the parent ran, at the
    constant learning rate the parent's schedule ended at (a larger one would undo what was
    learnt before the new points can matter), with the client's ``changes`` over those."""
    epochs = max(REFIT_MIN_EPOCHS, math.ceil(share * (epochs_run or parent.epochs)))
    ended_at = learning_rate(parent, normaliser) * parent.lr_floor
    continued = {"epochs": epochs, "lr": ended_at, "lr_floor": 1.0}
    return replace(parent, **{**continued, **changes})


def learning_rate(training: TrainingConfig, normaliser: Normaliser) -> float:
    """``training.lr``, or its default for data windowed as ``normaliser`` says."""
    if training.lr is not None:
        return training.lr
    return SHORT_SERIES_LR if normaliser.window is None else WINDOWED_LR


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. The defaults are meant for a caller who sends only the data set.

    Attributes:
        epochs: passes over the training series (early stopping may end sooner).
        batch_size: series per batch.
        lr: AdamW's learning rate, decayed by a cosine over the epochs to lr_floor * lr. None:
            ``SHORT_SERIES_LR`` for a family of short series, ``WINDOWED_LR`` for long series
            cut into windows (``learning_rate``).
        max_seconds: wall-clock budget; training stops after the epoch that passes it.
        seed: everything random derives from it.
        val_fraction: series held out for validation, early stopping and the skill figures
            (one or a few series, and long ones, hold out points instead:
            ``models.latent.holdout``); 0 validates on the training data.
        n_samples: posterior samples of z0 per series and batch.
        iwae: use the importance-weighted bound over the samples instead of the ELBO.
        kl_warmup_epochs: the KL term's weight grows linearly from 0 to 1 over these epochs.
        clip_norm: gradient norm clipping.
        patience: epochs without a better validation error before stopping.
        weight_decay: AdamW's decoupled weight decay.
    """

    epochs: int = 600
    batch_size: int = 32
    lr: float | None = None
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
        lr_ok = self.lr is None or 0 < self.lr <= 1
        if not (lr_ok and self.max_seconds > 0 and 0 <= self.val_fraction < 1):
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
    """A trained latent ODE with what it needs to answer in the data's units: its calibration
    and skill on held-out points (``models.latent.skill``; neutral and empty for models saved
    before they existed)."""

    model: LatentODE
    normaliser: Normaliser
    config: Config
    metrics: dict[str, float]
    series_ids: tuple[str, ...]
    skill: dict[str, Any] = field(default_factory=dict)
    calibration: Calibration = field(default_factory=Calibration)
    forecast_recipe: Recipe | None = None

    @property
    def stage(self) -> Stage:
        return Stage.FINAL


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
    normaliser: Normaliser | None = None,
) -> TrainedModel:
    """Train ``config.model`` on ``dataset``; return the model with the best validation error.

    After every epoch: ``on_progress`` gets the figures, ``checkpoint`` the state (to save it if it
    wants), then training ends early if ``stop()`` says so (a cancelled or interrupted job).
    ``normaliser``: ``fit_normaliser(config, dataset)`` when the caller has it already (a worker
    saves it in its checkpoints); fitted here otherwise.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    training = config.training
    torch.manual_seed(training.seed)
    normaliser = normaliser or fit_normaliser(config, dataset)
    holdout = make_holdout(dataset, normaliser, training.val_fraction, training.seed)
    model = new_model(config, normaliser, dataset.dims).to(device)
    train_series = [_without_base(s, normaliser) for s in holdout.train]
    lr = learning_rate(training, normaliser)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=training.weight_decay)
    state = _initial_state(model, optimizer) if resume_from is None else resume_from
    model.load_state_dict(state.model)
    if state.optimizer:  # a refit of a model saved without its optimizer starts a fresh one
        optimizer.load_state_dict(state.optimizer)
    started = time.monotonic() - state.elapsed_s
    first_epoch = state.epoch
    while state.epoch < training.epochs and state.bad_epochs < training.patience:
        epoch = state.epoch
        _set_learning_rate(optimizer, training, lr, epoch)
        loss = _train_epoch(model, optimizer, train_series, normaliser, config, epoch, device)
        interp, extrap = validation_errors(model, normaliser, holdout)
        score = _score(interp, extrap, loss)
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
    model.eval()
    metrics = _final_metrics(state)
    ids = tuple(s.id for s in dataset.series)
    calibration, figures = assess(model, normaliser, holdout, training.seed)
    trained = TrainedModel(model, normaliser, config, metrics, ids, figures, calibration)
    from .forecasting import attach_recipe  # it predicts with the model, and predict imports us

    return attach_recipe(trained, dataset, holdout)


def fit_normaliser(config: Config, dataset: Dataset) -> Normaliser:
    """The normaliser (and window plan) training fits for ``config`` on ``dataset``."""
    return Normaliser.fit(dataset, config.model.model_span, config.model.window)


def new_model(config: Config, normaliser: Normaliser, dims: int) -> LatentODE:
    """An untrained latent ODE for data normalised by ``normaliser``."""
    return LatentODE(config.model, dims, instance_scaled=normaliser.windowed)


def validation_errors(
    model: LatentODE, normaliser: Normaliser, holdout: Holdout
) -> tuple[float, float]:
    """Interpolation and extrapolation MSE on the held-out cases, from the posterior mean of z0,
    in standardised units."""
    return (
        _mse(model, normaliser, holdout.interpolation),
        _mse(model, normaliser, holdout.extrapolation),
    )


def _mse(model: LatentODE, normaliser: Normaliser, cases: list[HeldOut]) -> float:
    cases = [c for c in cases if len(c.times) and len(c.context)]
    if not cases:
        return math.nan
    requests = [Request(c.context, c.times) for c in cases]
    predicted = np.concatenate(decode(model, normaliser, requests, n_samples=0), axis=1)[0]
    truth = np.concatenate([c.values for c in cases])
    errors = (predicted - truth) / np.asarray(normaliser.std)  # standardised
    observed = ~np.isnan(truth)
    return float(np.mean(errors[observed] ** 2))


def _without_base(series: Series, normaliser: Normaliser) -> Series:
    """What the network learns of ``series``: the series less its base, if the model has one."""
    base = normaliser.fit_base(series)
    return series if base is None else residuals(series, base)


def _train_epoch(
    model: LatentODE,
    optimizer: torch.optim.Optimizer,
    train_series: list[Series],
    normaliser: Normaliser,
    config: Config,
    epoch: int,
    device: torch.device,
) -> float:
    """One pass over this epoch's examples: every short series, and windows of long ones."""
    training = config.training
    rng = np.random.default_rng([training.seed, epoch])
    torch.manual_seed(training.seed * 1_000_003 + epoch)
    kl_weight = min(1.0, (epoch + 1) / max(1, training.kl_warmup_epochs))
    series = [w for s in train_series for w in training_windows(s, normaliser.window, rng)]
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
    optimizer: torch.optim.Optimizer, training: TrainingConfig, lr: float, epoch: int
) -> None:
    """A cosine from lr to lr_floor * lr over the epochs; a function of the epoch alone."""
    progress = epoch / max(1, training.epochs - 1)
    factor = training.lr_floor + (1 - training.lr_floor) * 0.5 * (1 + math.cos(math.pi * progress))
    for group in optimizer.param_groups:
        group["lr"] = lr * factor


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


def _score(interp: float, extrap: float, loss: float) -> float:
    """What early stopping minimises: the held-out errors, or the loss when nothing is held out."""
    held_out = [e for e in (interp, extrap) if not math.isnan(e)]
    return sum(held_out) if held_out else loss


def _final_metrics(state: TrainingState) -> dict[str, float]:
    if not state.history:
        return {"epochs_run": float(state.epoch), "train_seconds": state.elapsed_s}
    best = min(
        state.history, key=lambda h: _score(h["val_interp_mse"], h["val_extrap_mse"], h["loss"])
    )
    return {
        "epochs_run": float(state.epoch),
        "best_epoch": best["epoch"],
        "val_interp_mse": best["val_interp_mse"],
        "val_extrap_mse": best["val_extrap_mse"],
        "train_seconds": state.elapsed_s,
    }
