"""Training speed of the service's default model on the CPU and on CUDA, in one run.

Run from the repository root::

    .venv/bin/python bench/devices.py               # the CPU alone where torch sees no GPU
    python bench/devices.py --epochs 8 --threads 16  # on a GPU machine: CPU and CUDA, and ratios

Two data sets a worker meets: a family of 200 short series (spirals, 100 irregular points each)
and one long series (``trend_season``, about 2,000 irregular points with gaps, cut into windows).
Each trains with the default ``Config`` (the seed fixed, the time budget lifted) for a fixed number
of epochs on each device; the first epoch is a warm-up (CUDA's kernels load then). It prints one
JSON line per data set and device (median seconds per epoch, the validation errors of the best
epoch, in standardised units) and the CUDA/CPU ratio of the epoch times. The validation errors of
the two devices are printed side by side because the same seed draws the same batches on both:
they should be close (float32 sums in another order), not equal.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from dataclasses import replace

import torch

from models.latent.train import Config, Progress, TrainingConfig, train
from models.series import Dataset
from models.synthetic import spirals, trend_season


def data_sets() -> dict[str, Dataset]:
    return {
        "spirals_200x100": spirals(200, n_points=100, seed=0),
        "trend_season_long": trend_season(seed=0),
    }


def epoch_times(dataset: Dataset, epochs: int, device: str) -> tuple[list[float], dict[str, float]]:
    """Seconds of each epoch after the first, and the validation errors of the best epoch."""
    training = replace(TrainingConfig(), epochs=epochs + 1, max_seconds=1e9, seed=0)
    elapsed: list[float] = []

    def record(progress: Progress) -> None:
        elapsed.append(progress.elapsed_s)

    trained = train(Config(training=training), dataset, on_progress=record, device=device)
    per_epoch = [later - earlier for earlier, later in itertools.pairwise(elapsed)]
    errors = {key: round(trained.metrics[key], 5) for key in ("val_interp_mse", "val_extrap_mse")}
    return per_epoch, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs per device")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if len(devices) == 1:
        print(json.dumps({"note": "torch sees no GPU here: the CPU alone, no ratio"}), flush=True)
    for name, dataset in data_sets().items():
        medians = {}
        for device in devices:
            per_epoch, errors = epoch_times(dataset, args.epochs, device)
            medians[device] = statistics.median(per_epoch)
            line = {
                "data": name,
                "device": device,
                "epoch_s": [round(s, 3) for s in per_epoch],
                **errors,
            }
            print(json.dumps(line), flush=True)
        if "cuda" in medians:
            ratio = medians["cuda"] / medians["cpu"]
            summary = {"data": name, "cuda_over_cpu": round(ratio, 3), "threads": args.threads}
            print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
