"""Medium series: one seasonal series of a decade of monthly values (or half a year of daily
ones), windowed by default, against the same fit unwindowed.

Run from the repository root::

    .venv/bin/python bench/quality_medium.py                      # data seeds 0 1 2
    .venv/bin/python bench/quality_medium.py --data-seeds 0 1 2 3 4 --cases growth

A data set of at most ``FEW_SERIES`` short series whose longest repeats its season often is
windowed (``models.latent.windows._medium_length``): unwindowed, such a series is one training
example and gets no seasonal base. This script measures that rule on synthetic series drawn here
(``MEDIUM_CASES``), one series per fit, the service's defaults and training seed 0, split as the
long cases of ``bench/quality_long.py`` are (the last season held out for extrapolation, 30% of
the four before it hidden for interpolation), and fits each twice: as served (windowed) and with
a window longer than the series (``UNWINDOWED``: one window, as before the rule). It prints, per
case, the mean and the worst data seed of interpolation MSE over linear interpolation's,
extrapolation MSE over the best naive method's, and the 80% intervals' coverage of every held-out
point (its worst seed: the furthest from 80).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

import numpy as np
from quality_latent import latent_forecast, train_model
from quality_long import naive_extrapolations, split_long

from models.baselines import linear_interpolation, per_dimension
from models.latent.model import ModelConfig
from models.series import Dataset, Series, TimeKind

UNWINDOWED = 1e12  # a window longer than any series here: each is one window
TRAINING_SEED = 0
SAMPLES = 100


def growth(rng: np.random.Generator) -> tuple[Series, float]:
    """144 monthly values growing 0.5-1.5% a month with a season whose amplitude grows with them
    (multiplicative, 15-30%), 3% multiplicative noise: the shape of airline passenger counts."""
    times = np.arange(144.0)
    level = 100 * np.exp(rng.uniform(0.005, 0.015) * times)
    season = 1 + rng.uniform(0.15, 0.3) * np.sin(2 * np.pi * times / 12 + rng.uniform(0, 2 * np.pi))
    values = level * season * np.exp(rng.normal(0, 0.03, len(times)))
    return Series("growth", times, values[:, None]), 12.0


def trend_season(rng: np.random.Generator) -> tuple[Series, float]:
    """132 months less a random 10%: a linear trend, a season of two harmonics, noise 0.5."""
    times = np.arange(132.0)
    times = times[rng.random(len(times)) > 0.1]
    phases = rng.uniform(0, 2 * np.pi, 2)
    season = 3 * np.sin(2 * np.pi * times / 12 + phases[0]) + np.sin(
        4 * np.pi * times / 12 + phases[1]
    )
    values = rng.uniform(0.5, 2) * times / 12 + season + rng.normal(0, 0.5, len(times))
    return Series("trend-season", times, values[:, None]), 12.0


def weekly(rng: np.random.Generator) -> tuple[Series, float]:
    """182 days of a weekly profile (weekends at 30%) on a slow rise, noise 3 on a level of 50."""
    times = np.arange(182.0)
    profile = rng.uniform(0.5, 1.5, 7)
    profile[5:] *= 0.3
    values = 50 * profile[times.astype(int) % 7] * (1 + 0.002 * times)
    return Series("weekly", times, (values + rng.normal(0, 3, len(times)))[:, None]), 7.0


MEDIUM_CASES: MappingProxyType[str, Callable[[np.random.Generator], tuple[Series, float]]] = (
    MappingProxyType({"growth": growth, "trend_season": trend_season, "weekly": weekly})
)
CONFIGURATIONS = {"windowed": None, "unwindowed": UNWINDOWED}


def scores(name: str, data_seed: int, window: float | None, seconds: float) -> dict[str, float]:
    """One fit's ratios and coverage on one case's held-out points."""
    series, season = MEDIUM_CASES[name](np.random.default_rng(data_seed))
    split = split_long(series, season)
    model = replace(ModelConfig(), window=window)
    data = Dataset((split.training,), TimeKind.NUMERIC)
    trained = train_model(name, data, model, seed=TRAINING_SEED, seconds=seconds, device="cpu")
    interp = latent_forecast(
        trained, split.training, split.interp_times, n_samples=SAMPLES, seed=TRAINING_SEED
    )
    extrap = latent_forecast(
        trained, split.training, split.extrap_times, n_samples=SAMPLES, seed=TRAINING_SEED
    )
    linear = per_dimension(linear_interpolation, split.training, split.interp_times, np.zeros(1))
    naive = [_mse(f.mean, split.extrap_values) for f in naive_extrapolations(split).values()]
    covered = [
        (truth >= f.quantiles[0.1]) & (truth <= f.quantiles[0.9])
        for f, truth in ((interp, split.interp_values), (extrap, split.extrap_values))
    ]
    return {
        "interp_vs_linear": _mse(interp.mean, split.interp_values)
        / _mse(linear, split.interp_values),
        "extrap_vs_best_naive": _mse(extrap.mean, split.extrap_values) / min(naive),
        "coverage_80": 100 * float(np.concatenate(covered).mean()),
    }


def _mse(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((predicted - truth) ** 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", choices=sorted(MEDIUM_CASES), default=None)
    parser.add_argument("--data-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=240.0, help="training budget per fit")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    names = args.cases or list(MEDIUM_CASES)
    print("case          configuration  figure                 per data seed        mean  worst")
    for name in names:
        for configuration, window in CONFIGURATIONS.items():
            runs = [scores(name, seed, window, args.seconds) for seed in args.data_seeds]
            print(
                json.dumps({"case": name, "configuration": configuration, "runs": runs}),
                file=sys.stderr,
            )
            for figure in ("interp_vs_linear", "extrap_vs_best_naive", "coverage_80"):
                values = [run[figure] for run in runs]
                worst = max(values, key=lambda v: abs(v - 80) if figure == "coverage_80" else v)
                per_seed = " ".join(f"{v:6.3g}" for v in values)
                print(
                    f"{name:13s} {configuration:14s} {figure:22s} {per_seed:20s} "
                    f"{np.mean(values):5.3g} {worst:6.3g}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
