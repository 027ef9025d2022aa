"""Training speed of the service's default model on the CPU and on CUDA, in one run.

Run from the repository root::

    .venv/bin/python bench/devices.py               # the CPU alone where torch sees no GPU
    python bench/devices.py --epochs 8 --threads 16  # on a GPU machine: CPU and CUDA, and ratios
    python bench/devices.py --data spirals --hidden 256 --encoder 256 --batch-size 128

Two data sets a worker meets: a family of 200 short series (spirals, 100 irregular points each)
and one long series (``trend_season``, about 2,000 irregular points with gaps, cut into windows).
Each trains with the default ``Config`` (the seed fixed, the time budget lifted) for a fixed number
of epochs on each device; the first epoch is a warm-up (CUDA's kernels load then). It prints one
JSON line per data set and device (median seconds per epoch, the validation errors of the best
epoch, in standardised units) and the CUDA/CPU ratio of the epoch times. The validation errors of
the two devices are printed side by side because the same seed draws the same batches on both:
they should be close (float32 sums in another order), not equal. ``--latent``, ``--hidden``,
``--encoder`` and ``--batch-size`` change the model's sizes and the batch from the defaults, to
find where a GPU starts to pay; ``--data`` picks one of the two data sets. ``--profile`` prints
torch.profiler's table of the operators of two epochs on each device (most self CPU time first).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from dataclasses import replace

import torch

from models.latent.model import ModelConfig
from models.latent.train import Config, Progress, TrainingConfig, train
from models.series import Dataset
from models.synthetic import spirals, trend_season


def data_sets() -> dict[str, Dataset]:
    return {
        "spirals_200x100": spirals(200, n_points=100, seed=0),
        "trend_season_long": trend_season(seed=0),
    }


def epoch_times(
    config: Config, dataset: Dataset, epochs: int, device: str
) -> tuple[list[float], dict[str, float]]:
    """Seconds of each epoch after the first, and the validation errors of the best epoch."""
    training = replace(config.training, epochs=epochs + 1, max_seconds=1e9, seed=0)
    elapsed: list[float] = []

    def record(progress: Progress) -> None:
        elapsed.append(progress.elapsed_s)

    trained = train(replace(config, training=training), dataset, on_progress=record, device=device)
    per_epoch = [later - earlier for earlier, later in itertools.pairwise(elapsed)]
    errors = {key: round(trained.metrics[key], 5) for key in ("val_interp_mse", "val_extrap_mse")}
    return per_epoch, errors


def profile_table(config: Config, dataset: Dataset, device: str, rows: int = 20) -> str:
    """torch.profiler's operators over two epochs on ``device``, most self CPU time first."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(ProfilerActivity.CUDA)
    training = replace(config.training, epochs=2, max_seconds=1e9, seed=0)
    with profile(activities=activities) as profiler:
        train(replace(config, training=training), dataset, device=device)
    averages = profiler.key_averages()
    return f"{device}:\n" + averages.table(sort_by="self_cpu_time_total", row_limit=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs per device")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--data", choices=sorted(data_sets()), nargs="*", help="(both)")
    defaults = ModelConfig()
    parser.add_argument("--latent", type=int, default=defaults.latent_dim)
    parser.add_argument("--hidden", type=int, default=defaults.hidden_dim)
    parser.add_argument("--encoder", type=int, default=defaults.encoder_dim)
    parser.add_argument("--batch-size", type=int, default=TrainingConfig().batch_size)
    parser.add_argument("--profile", action="store_true", help="torch.profiler's table too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = replace(
        defaults, latent_dim=args.latent, hidden_dim=args.hidden, encoder_dim=args.encoder
    )
    config = Config(model, replace(TrainingConfig(), batch_size=args.batch_size))
    sizes = {"latent": args.latent, "hidden": args.hidden, "encoder": args.encoder}
    sizes["batch_size"] = args.batch_size
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if len(devices) == 1:
        print(json.dumps({"note": "torch sees no GPU here: the CPU alone, no ratio"}), flush=True)
    for name, dataset in data_sets().items():
        if args.data and name not in args.data:
            continue
        medians = {}
        for device in devices:
            per_epoch, errors = epoch_times(config, dataset, args.epochs, device)
            medians[device] = statistics.median(per_epoch)
            line = {
                "data": name,
                **sizes,
                "device": device,
                "epoch_s": [round(s, 3) for s in per_epoch],
                **errors,
            }
            print(json.dumps(line), flush=True)
            if args.profile:
                print(profile_table(config, dataset, device), flush=True)
        if "cuda" in medians:
            ratio = medians["cuda"] / medians["cpu"]
            summary = {"data": name, **sizes, "cuda_over_cpu": round(ratio, 3)}
            print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
