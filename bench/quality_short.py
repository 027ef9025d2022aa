"""Short cases of the quality benchmark: families of short series, and Chen et al.'s spirals.

For every family in ``models.synthetic.FAMILIES`` (with the family's own defaults for points per
series and noise) a training set (200 series, data seed 0) and a separate held-out test set (50
series, data seed 1) are generated, the same for every training seed. On every held-out series:

- interpolation: a random 20% of the points observed (at least 2; the same for every training
  seed), the others predicted;
- extrapolation: the first half of the points observed, the second half predicted.

The latent ODE predicts from a ``Series`` of the observed rows. The naive methods work per
dimension from that dimension's observed points only (``models.baselines``; a dimension with no
observed point is predicted by the training set's mean): linear interpolation and a natural cubic
spline for interpolation; last value, drift and linear trend for extrapolation (the best of them
is "best naive"). Scores are pooled over every observed target entry of the family
(``quality_scores``), with ``mse_vs_clean`` (against the noiseless values, regenerated with the
same seed and noise 0) and ``noise_floor`` (the noiseless values' MSE against the noisy targets:
no method can expect to go below it; its ratios are printed as the ideal predictor's figures).
Checked per seed, then on the mean of the seeds:
interpolation MSE <= 0.5x linear interpolation, extrapolation MSE <= 0.15x the best naive
method, and the coverage of the 80% and 90% intervals on all held-out entries within 5 points.

``chen_case``: Chen et al.'s spiral setting (Neural ODEs, 2018, table 2): ``spirals`` with 100
points per series and noise 0.3, fully observed, and ``ModelConfig(latent_dim=4)``; the first 30
points observed, the other 70 extrapolated. Its RMSE is reported next to their 0.1642, against
the noisy targets and against the noiseless spiral (0.1642 is below the noise of 0.3, so theirs
must be the latter). Our series are a shorter stretch of spiral (6π/10) sampled at irregular
times, theirs 100 of 500 regular points on [0, 6π], and they trained on 1,000 spirals for longer,
so the comparison is indicative only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from quality_latent import latent_forecast, train_model
from quality_scores import (
    CaseRun,
    Forecast,
    Scores,
    Target,
    coverage_targets,
    coverage_values,
    ratio,
)
from scipy.interpolate import CubicSpline

from models.baselines import (
    EXTRAPOLATION_BASELINES,
    Baseline,
    linear_interpolation,
    per_dimension,
)
from models.latent.model import ModelConfig
from models.latent.train import TrainedModel, TrainingDivergedError
from models.series import Dataset, Series
from models.synthetic import FAMILIES, spirals

TRAIN_SEED, TEST_SEED, EVAL_SEED = 0, 1, 2  # data seeds: training set, test set, splits
INTERP_FRACTION = 0.2
EXTRAP_FRACTION = 0.5
INTERP_TARGET = 0.5  # latent / linear interpolation
EXTRAP_TARGET = 0.15  # latent / best naive method
CHEN_OBSERVED, CHEN_POINTS, CHEN_NOISE, CHEN_LATENT = 30, 100, 0.3, 4
CHEN_REPORTED_RMSE = 0.1642


def cubic_spline(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """A natural cubic spline, constant beyond the ends; linear below 4 points."""
    if len(times) < 4:
        return linear_interpolation(times, values, query)
    spline = CubicSpline(times, values, bc_type="natural")
    return spline(np.clip(query, times[0], times[-1]))


INTERP_BASELINES: dict[str, Baseline] = {
    "linear": linear_interpolation,
    "cubic_spline": cubic_spline,
}


@dataclass(frozen=True)
class ShortSettings:
    """How much data and how many posterior samples a short case uses."""

    n_train: int
    n_test: int
    n_samples: int


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Split:
    """One held-out series split into observed rows (context) and rows to predict (targets).

    Attributes:
        context: the observed rows (each with at least one observed entry).
        target_times: [Q].
        target_values: noisy, NaN where not observed, [Q, D].
        target_clean: noiseless, same rows, [Q, D].
    """

    context: Series
    target_times: np.ndarray
    target_values: np.ndarray
    target_clean: np.ndarray


def split(noisy: Series, clean: Series, context_rows: np.ndarray) -> Split:
    """Context from ``context_rows`` (keeping rows with an observed entry); targets the rest."""
    targets = np.setdiff1d(np.arange(len(noisy)), context_rows)
    rows = context_rows[~np.isnan(noisy.values[context_rows]).all(axis=1)]
    context = Series(noisy.id, noisy.times[rows], noisy.values[rows])
    return Split(context, noisy.times[targets], noisy.values[targets], clean.values[targets])


def interpolation_rows(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random 20% of the rows (at least 2), sorted."""
    k = min(n - 1, max(2, round(INTERP_FRACTION * n)))
    return np.sort(rng.choice(n, size=k, replace=False))


def prefix_rows(n: int, k: int) -> np.ndarray:
    """The first k rows (at most n - 1, so that one is left to predict)."""
    return np.arange(min(k, n - 1))


def held_out_tasks(noisy: Dataset, clean: Dataset) -> tuple[list[Split], list[Split]]:
    """(interpolation, extrapolation) tasks on every held-out series."""
    pairs = list(zip(noisy.series, clean.series, strict=True))
    rng = np.random.default_rng(EVAL_SEED)
    interp = [split(s, c, interpolation_rows(len(s), rng)) for s, c in pairs]
    extrap = [split(s, c, prefix_rows(len(s), round(EXTRAP_FRACTION * len(s)))) for s, c in pairs]
    return interp, extrap


# ----------------------------------------------------------------------------- scoring


@dataclass
class TaskScores:
    """One kind of task's scores against the noisy targets and against the noiseless values,
    and the noise floor (the noiseless values' MSE against the noisy targets)."""

    noisy: Scores
    clean: Scores
    floor: Scores

    def summary(self) -> dict[str, Any]:
        return {
            **self.noisy.summary(),
            "mse_vs_clean": self.clean.summary()["mse"],
            "noise_floor": self.floor.mse("clean") if self.floor.sums else math.nan,
        }


def evaluate(
    trained: TrainedModel,
    tasks: Iterable[Split],
    baselines: dict[str, Baseline],
    n_samples: int,
    seed: int,
) -> TaskScores:
    """The latent ODE's and every baseline's scores on every task."""
    fallback = np.asarray(trained.normaliser.mean)
    scores = TaskScores(Scores(), Scores(), Scores())
    for i, task in enumerate(tasks):
        forecasts = {
            "latent_ode": latent_forecast(
                trained, task.context, task.target_times, n_samples=n_samples, seed=seed + i
            ),
            **{
                name: Forecast(per_dimension(b, task.context, task.target_times, fallback))
                for name, b in baselines.items()
            },
        }
        for name, forecast in forecasts.items():
            scores.noisy.add(name, forecast, task.target_values)
            scores.clean.add(name, forecast, task.target_clean)
        observed_clean = np.where(np.isnan(task.target_values), np.nan, task.target_clean)
        scores.floor.add("clean", Forecast(task.target_values), observed_clean)
    return scores


def short_targets() -> dict[str, Target]:
    """The checked figures' names and targets for a short family."""
    return {
        "interp_vs_linear": Target(INTERP_TARGET),
        "extrap_vs_best_naive": Target(EXTRAP_TARGET),
        **coverage_targets(),
    }


def best_naive(extrapolation: Scores) -> str:
    """The naive extrapolation method with the lowest MSE."""
    return min(EXTRAPOLATION_BASELINES, key=extrapolation.mse)


def short_values(interp: Scores, extrap: Scores) -> dict[str, float]:
    """The checked figures: MSE ratios, and the latent ODE's coverage on every held-out entry."""
    latent = extrap.mse("latent_ode")
    return {
        "interp_vs_linear": ratio(interp.mse("latent_ode"), interp.mse("linear")),
        "extrap_vs_best_naive": ratio(latent, extrap.mse(best_naive(extrap))),
        **coverage_values(interp.merged(extrap), "latent_ode"),
    }


def ideal_values(interp: TaskScores, extrap: TaskScores) -> dict[str, float]:
    """The MSE ratios of the ideal predictor, the noiseless values (each series' own law with
    its drawn parameters): the noise floor over the naive methods' errors."""
    return {
        "interp_vs_linear": ratio(interp.floor.mse("clean"), interp.noisy.mse("linear")),
        "extrap_vs_best_naive": ratio(
            extrap.floor.mse("clean"), extrap.noisy.mse(best_naive(extrap.noisy))
        ),
    }


# ----------------------------------------------------------------------------- cases


def family_case(
    name: str, settings: ShortSettings, *, seed: int, seconds: float, device: str
) -> CaseRun:
    """Train on one family with one training seed and score both tasks."""
    generate: Callable[..., Dataset] = FAMILIES[name]
    train_set = generate(settings.n_train, seed=TRAIN_SEED)
    noisy = generate(settings.n_test, seed=TEST_SEED)
    clean = generate(settings.n_test, seed=TEST_SEED, noise=0.0)
    targets = short_targets()
    record: dict[str, Any] = {"case": name, "group": "short", "seed": seed}
    started = time.monotonic()
    try:
        trained = train_model(
            name, train_set, ModelConfig(), seed=seed, seconds=seconds, device=device
        )
    except TrainingDivergedError as error:
        return CaseRun.failed({**record, "error": f"{type(error).__name__}: {error}"}, targets)
    train_s = time.monotonic() - started
    interp_tasks, extrap_tasks = held_out_tasks(noisy, clean)
    started = time.monotonic()
    interp = evaluate(trained, interp_tasks, INTERP_BASELINES, settings.n_samples, seed)
    extrap = evaluate(trained, extrap_tasks, EXTRAPOLATION_BASELINES, settings.n_samples, seed)
    eval_s = time.monotonic() - started
    values = short_values(interp.noisy, extrap.noisy)
    ideal = ideal_values(interp, extrap)
    record |= {
        "series": {"train": settings.n_train, "test": settings.n_test},
        "points_per_series": len(noisy.series[0]),
        "dims": noisy.dims,
        "training": {**trained.metrics, "budget_s": seconds, "wall_s": train_s},
        "eval_s": eval_s,
        "interpolation": {"observed_fraction": INTERP_FRACTION, **interp.summary()},
        "extrapolation": {
            "observed_fraction": EXTRAP_FRACTION,
            **extrap.summary(),
            "best_naive": best_naive(extrap.noisy),
        },
        "figures": values,
        "ideal_figures": ideal,
        "latent_vs_cubic_spline": ratio(
            interp.noisy.mse("latent_ode"), interp.noisy.mse("cubic_spline")
        ),
    }
    return CaseRun(record, values, targets, ideal)


def chen_case(settings: ShortSettings, *, seconds: float, device: str) -> dict[str, Any]:
    """Chen et al.'s spirals: latent 4, 100 points, noise 0.3, first 30 observed, RMSE on 70."""

    def generate(n: int, seed: int, noise: float) -> Dataset:
        return spirals(n, n_points=CHEN_POINTS, noise=noise, missing=0.0, seed=seed)

    train_set = generate(settings.n_train, TRAIN_SEED, CHEN_NOISE)
    noisy = generate(settings.n_test, TEST_SEED, CHEN_NOISE)
    clean = generate(settings.n_test, TEST_SEED, 0.0)
    model = ModelConfig(latent_dim=CHEN_LATENT)
    try:
        trained = train_model(
            "chen_spirals", train_set, model, seed=TRAIN_SEED, seconds=seconds, device=device
        )
    except TrainingDivergedError as error:
        return {"case": "chen_spirals", "error": f"{type(error).__name__}: {error}"}
    tasks = [
        split(s, c, prefix_rows(len(s), CHEN_OBSERVED))
        for s, c in zip(noisy.series, clean.series, strict=True)
    ]
    baselines = {m: EXTRAPOLATION_BASELINES[m] for m in ("last_value", "linear_trend")}
    errors = evaluate(trained, tasks, baselines, settings.n_samples, TRAIN_SEED)
    return {
        "case": "chen_spirals",
        "setting": {
            "latent_dim": CHEN_LATENT,
            "points_per_series": CHEN_POINTS,
            "noise": CHEN_NOISE,
            "missing": 0.0,
            "observed": CHEN_OBSERVED,
            "series": {"train": settings.n_train, "test": settings.n_test},
        },
        "training": {**trained.metrics, "budget_s": seconds},
        "extrapolation": {
            "rmse": _root(errors.noisy.summary()["mse"]),
            "rmse_vs_clean": _root(errors.clean.summary()["mse"]),
            "noise_floor_rmse": math.sqrt(errors.floor.mse("clean")),
        },
        "chen_reported_rmse": CHEN_REPORTED_RMSE,
    }


def _root(mse: dict[str, float]) -> dict[str, float]:
    return {method: math.sqrt(value) for method, value in mse.items()}
