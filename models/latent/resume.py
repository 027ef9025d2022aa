"""Training states and trained models on disk, as checkpoints that hold their config and
normaliser too."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ..checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointLocation,
    load_checkpoint,
    save_checkpoint,
)
from ..forecast.pipeline import Recipe
from ..store.record import Stage
from .calibration import Calibration
from .normaliser import Normaliser
from .provisional import ProvisionalModel
from .train import Config, TrainedModel, TrainingState, new_model

# The best weights so far share the tensor file with the current ones under this prefix.
_BEST = "best."


def save_training_state(
    directory: CheckpointLocation, state: TrainingState, config: Config, normaliser: Normaliser
) -> None:
    """Write ``state`` (with the config and normaliser it belongs to) as one atomic checkpoint."""
    tensors = {**state.model, **{_BEST + k: v for k, v in state.best_model.items()}}
    meta = {
        "config": config.to_json(),
        "normaliser": normaliser.to_json(),
        "position": {
            "epoch": state.epoch,
            "best_val": state.best_val,
            "bad_epochs": state.bad_epochs,
            "elapsed_s": state.elapsed_s,
        },
        "history": state.history,
    }
    save_checkpoint(directory, model=tensors, optimizer=state.optimizer, meta=meta)


def load_training_state(directory: CheckpointLocation) -> tuple[TrainingState, Config, Normaliser]:
    """The state saved by ``save_training_state``; raises CheckpointError if it is unreadable."""
    checkpoint = load_checkpoint(directory)
    meta: dict[str, Any] = checkpoint.meta
    position = meta["position"]
    current = {k: v for k, v in checkpoint.model.items() if not k.startswith(_BEST)}
    best = {k[len(_BEST) :]: v for k, v in checkpoint.model.items() if k.startswith(_BEST)}
    state = TrainingState(
        epoch=int(position["epoch"]),
        model=current,
        optimizer=checkpoint.optimizer or {},
        best_model=best,
        best_val=float(position["best_val"]),
        bad_epochs=int(position["bad_epochs"]),
        elapsed_s=float(position["elapsed_s"]),
        history=list(meta["history"]),
    )
    return state, Config.from_json(meta["config"]), Normaliser.from_json(meta["normaliser"])


def save_trained_model(
    directory: CheckpointLocation,
    trained: TrainedModel,
    optimizer: Mapping[str, Any] | None = None,
) -> None:
    """Write a finished model for serving: its weights, config, normaliser, metrics and series,
    and the optimizer's state where training ended (``optimizer``), which a refit starts from."""
    meta = {
        "config": trained.config.to_json(),
        "normaliser": trained.normaliser.to_json(),
        "metrics": trained.metrics,
        "series_ids": list(trained.series_ids),
        "dims": trained.model.dims,
        "skill": trained.skill,
        "calibration": trained.calibration.to_json(),
        "forecast_recipe": (
            None if trained.forecast_recipe is None else trained.forecast_recipe.to_json()
        ),
    }
    save_checkpoint(directory, model=trained.model.state_dict(), optimizer=optimizer, meta=meta)


def refit_start(directory: CheckpointLocation) -> tuple[TrainedModel, TrainingState]:
    """The trained model in ``directory`` and the training state a refit of it starts from: its
    weights, and its optimizer's state where its training ended (none for a model saved before
    it was kept: a fresh optimizer), at epoch 0 with no best yet. CheckpointError when the
    checkpoint holds no trained weights."""
    checkpoint = load_checkpoint(directory)
    trained = _trained(directory, checkpoint, "cpu")
    if isinstance(trained, ProvisionalModel):
        raise CheckpointError(f"{directory}: holds a provisional model, not trained weights")
    weights = trained.model.state_dict()
    state = TrainingState(
        epoch=0,
        model=weights,
        optimizer=checkpoint.optimizer or {},
        best_model=weights,
        best_val=math.inf,
        bad_epochs=0,
        elapsed_s=0.0,
        history=[],
    )
    return trained, state


def save_provisional_model(directory: CheckpointLocation, provisional: ProvisionalModel) -> None:
    """Write the cheap candidates' model for serving while the latent ODE trains: a
    checkpoint without weights, so that the final model's save is simply the next version."""
    save_checkpoint(directory, model={}, optimizer=None, meta=provisional.to_json())


def load_trained_model(
    directory: CheckpointLocation, *, device: str | torch.device = "cpu"
) -> TrainedModel:
    """A model written by ``save_trained_model``, ready for ``predict``; never unpickles.
    CheckpointError when the checkpoint there is a provisional model's."""
    loaded = load_trained_model_and_version(directory, device=device)[0]
    if isinstance(loaded, ProvisionalModel):
        raise CheckpointError(f"{directory}: holds a provisional model, not trained weights")
    return loaded


def load_trained_model_and_version(
    directory: CheckpointLocation,
    *,
    device: str | torch.device = "cpu",
    manifest: Mapping[str, Any] | None = None,
) -> tuple[TrainedModel | ProvisionalModel, int]:
    """``load_trained_model`` and the checkpoint version it read, without the optimizer's state
    a final checkpoint keeps for refits. ``manifest``: meta.json's content as the model's record
    keeps it, which saves reading meta.json (see `load_checkpoint`); when it does not describe
    the weights (a record's JSON turns NaN into null, or it was edited), meta.json decides."""
    if manifest is not None:
        try:
            checkpoint = load_checkpoint(
                directory, device=device, manifest=manifest, optimizer=False
            )
            return _trained(directory, checkpoint, device), checkpoint.version
        except CheckpointError:
            pass
    checkpoint = load_checkpoint(directory, device=device, optimizer=False)
    return _trained(directory, checkpoint, device), checkpoint.version


def _trained(
    directory: CheckpointLocation, checkpoint: Checkpoint, device: str | torch.device
) -> TrainedModel | ProvisionalModel:
    """The model a checkpoint written by ``save_trained_model`` (or by
    ``save_provisional_model``) describes."""
    meta: dict[str, Any] = checkpoint.meta
    try:
        if meta.get("stage") == Stage.PROVISIONAL:
            return ProvisionalModel.from_json(meta)
        config = Config.from_json(meta["config"])
        normaliser = Normaliser.from_json(meta["normaliser"])
        model = new_model(config, normaliser, int(meta["dims"])).to(device)
        model.load_state_dict(checkpoint.model)
        return TrainedModel(
            model=model.eval(),
            normaliser=normaliser,
            config=config,
            metrics={k: float(v) for k, v in meta["metrics"].items()},
            series_ids=tuple(meta["series_ids"]),
            skill=dict(meta.get("skill") or {}),
            calibration=Calibration.from_json(meta.get("calibration")),
            forecast_recipe=_recipe(meta.get("forecast_recipe")),
        )
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:
        # meta.json is checked as JSON, not as a model: a hand-edited one lands here.
        raise CheckpointError(
            f"{directory}: meta.json does not describe its weights: {err}"
        ) from err


def _recipe(data: Any) -> Recipe | None:
    """The forecast recipe a model was saved with; None for one saved before recipes existed
    (its own forecasts serve, as they did)."""
    return None if data is None else Recipe.from_json(data)
