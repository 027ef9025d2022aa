"""A training state on disk: a checkpoint to resume from, holding the config and normaliser too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checkpoint import load_checkpoint, save_checkpoint
from .normaliser import Normaliser
from .train import Config, TrainingState

# The best weights so far share the tensor file with the current ones under this prefix.
_BEST = "best."


def save_training_state(
    directory: Path, state: TrainingState, config: Config, normaliser: Normaliser
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


def load_training_state(directory: Path) -> tuple[TrainingState, Config, Normaliser]:
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
