"""Refits against cold fits, on the development corpus's single series: appending the next 5% of
a series' points and refitting (``refit_training``, from the parent's weights and optimizer
state), against fitting the same data from scratch, as a worker runs each (``train``, the
service's defaults but the seed).

    .venv/bin/python bench/refit.py [--full] [--seeds 0 1] [--shares 0.1 0.25 0.5]

Per series (the quick subset, or every one with ``--full``; the rows before its latest origin,
less the points the corpus hides there): a parent fitted on the first 95% of them, its refits on
all (one per share of the parent's epochs in ``--shares``; ``REFIT_EPOCH_SHARE`` by default), and
a cold fit on all. Printed per share: the refit's wall time over the cold fit's (median over
series), and the refit's MSE over the cold fit's on the same points, as ``/predict`` answers
them: the hidden points (interpolation) and the origin's horizon (forecast); geometric mean over
series, how many within 5%, and the worst.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's models

import numpy as np
from corpus_catalog import single_series
from corpus_data import SingleSeries
from corpus_report import geometric_mean
from corpus_splits import origins

from models.latent.predict import predict
from models.latent.train import (
    REFIT_EPOCH_SHARE,
    Config,
    TrainedModel,
    TrainingConfig,
    TrainingState,
    refit_training,
    train,
)
from models.series import Dataset, Series, TimeKind

APPENDED = 0.05  # the share of a series' points a refit adds
JOBS = ("interpolation", "extrapolation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="every single series")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[REFIT_EPOCH_SHARE])
    args = parser.parse_args(argv)
    corpus = [s for s in single_series() if s.quick or args.full]
    rows: dict[float, list[Row]] = {share: [] for share in args.shares}
    for seed in args.seeds:
        for series in corpus:
            for share, (time_ratio, errors) in _compare(series, seed, args.shares).items():
                rows[share].append((series.name, seed, time_ratio, errors))
            print(f"{series.name} seed {seed} done", file=sys.stderr, flush=True)
    for share, found in rows.items():
        print(_table(share, found))
        print()
    return 0


Row = tuple[str, int, float, dict[str, float | None]]


def _compare(
    series: SingleSeries, seed: int, shares: list[float]
) -> dict[float, tuple[float, dict[str, float | None]]]:
    """Per share: the refit's wall time over the cold fit's, and its held-out MSE over the cold
    fit's."""
    origin = origins(series)[-1]
    before = np.flatnonzero(origin.train)
    kind = TimeKind.DATETIME if series.datetime else TimeKind.NUMERIC
    cut = round(len(before) * (1 - APPENDED))
    first, whole = (
        Dataset((Series("s", series.times[rows], series.values[rows, None]),), kind)
        for rows in (before[:cut], before)
    )
    config = Config(training=TrainingConfig(seed=seed))
    parent, state = _fit(config, first)
    started = time.perf_counter()
    cold, _ = _fit(config, whole)
    cold_s = time.perf_counter() - started
    found = {}
    for share in shares:
        training = refit_training(
            config.training, parent.metrics.get("epochs_run"), parent.normaliser, {}, share
        )
        start = TrainingState(
            epoch=0,
            model=copy.deepcopy(parent.model.state_dict()),
            optimizer=copy.deepcopy(state.optimizer),
            best_model=copy.deepcopy(parent.model.state_dict()),
            best_val=float("inf"),
            bad_epochs=0,
            elapsed_s=0.0,
            history=[],
        )
        started = time.perf_counter()
        refitted = train(
            Config(config.model, training),
            whole,
            resume_from=start,
            normaliser=parent.normaliser,
            device="cpu",
        )
        refit_s = time.perf_counter() - started
        errors = {
            job: _mse(refitted, whole.series[0], series, rows)
            / max(_mse(cold, whole.series[0], series, rows), 1e-300)
            for job, rows in zip(JOBS, (origin.hidden, origin.ahead), strict=True)
            if len(rows)
        }
        found[share] = (refit_s / cold_s, errors)
    return found


def _fit(config: Config, dataset: Dataset) -> tuple[TrainedModel, TrainingState]:
    """The trained model and its training state where it ended (the optimizer's there)."""
    states: list[TrainingState] = []
    trained = train(config, dataset, checkpoint=states.append, device="cpu")
    return trained, states[-1]


def _mse(trained: TrainedModel, context: Series, series: SingleSeries, rows: np.ndarray) -> float:
    """The served mean's MSE at ``rows`` of ``series``, answered from ``context``."""
    answer = predict(trained, context, series.times[rows])
    return float(np.mean((answer.mean[:, 0] - series.values[rows]) ** 2))


def _table(share: float, rows: list[Row]) -> str:
    times = np.array([r[2] for r in rows])
    lines = [
        f"Refits of {share:g} of the parent's epochs against cold fits, {len(rows)} fits "
        "(series x seeds)",
        "",
        f"- wall time, refit / cold: median {np.median(times):.2f}, p90 "
        f"{np.percentile(times, 90):.2f}",
    ]
    for job in JOBS:
        ratios = {f"{name} (seed {seed})": e[job] for name, seed, _, e in rows if e.get(job)}
        if not ratios:
            continue
        worst = max(ratios, key=lambda k: ratios[k] or 0.0)
        within = sum((r or 0.0) <= 1.05 for r in ratios.values())
        lines.append(
            f"- {job} MSE at the same points, refit / cold: geometric mean "
            f"{geometric_mean(r for r in ratios.values() if r):.3f}, within 5%: {within} of "
            f"{len(ratios)}, worst {worst} {ratios[worst]:.2f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
