"""Quality benchmark of the latent ODE (``models.latent``) against simple baselines.

Run from the repository root::

    .venv/bin/python bench/quality.py                  # 5 minutes of training per family
    .venv/bin/python bench/quality.py --quick          # 30 s per family, fewer series
    .venv/bin/python bench/quality.py --chen           # also Chen et al.'s spiral setting
    .venv/bin/python bench/quality.py --families --chen  # only Chen et al.'s spiral setting

For every synthetic family in ``models.synthetic.FAMILIES`` (with the family's own defaults for
points per series and noise) the script generates a training set (200 series, seed 0) and a
separate held-out test set (50 series, seed 1), and trains the latent ODE with the caller's
defaults: ``train(Config(), dataset)``, everything default except ``TrainingConfig.max_seconds``
(``--seconds``, by default the training default, ``TrainingConfig().max_seconds``; training
stops after the epoch that passes it). Progress goes to
stderr every 10 epochs; results go to stdout as one JSON line per case and a summary line.

On every held-out series, in the data's raw units:

- interpolation: a random 20% of the points observed (at least 2; seeded per series), the
  others predicted;
- extrapolation: the first half of the points observed, the second half predicted.

The latent ODE predicts with ``models.latent.predict.predict`` (the mean of ``--samples``
posterior predictive samples) from a ``Series`` of the observed rows. The baselines, computed in
the same run on the same points, work per dimension from that dimension's observed context
points only:

- ``linear``: linear interpolation (``np.interp``; constant beyond the first and last point);
- ``cubic_spline``: a natural cubic spline (``scipy.interpolate.CubicSpline``), held constant
  beyond the first and last point; linear interpolation with fewer than 4 points;
- ``last_value``: the last observed value;
- ``linear_trend``: the least-squares line through all the context points of the dimension
  (the last value with a single point).

A dimension with no observed context point (possible only with missing entries) is predicted by
the training set's mean for every method. The MSE is pooled over every observed target entry of
the family (NaN targets excluded). Beside it: ``mse_standardised`` (each squared error divided by
the training set's variance of its dimension), ``mse_vs_clean`` (against the noiseless values,
regenerated with the same seed and noise 0) and ``noise_floor`` (the MSE of the noiseless values
against the noisy targets: no method can expect to go below it on the main figure).

Checked per family, on the raw MSE: latent / linear <= 0.8 for interpolation, and latent /
min(last_value, linear_trend) <= 1/3 for extrapolation. The summary line lists every ratio, its
target and ok, and ``all_ok``.

``--chen`` adds Chen et al.'s spiral setting (Neural ODEs, 2018, table 2): ``spirals`` with 100
points per series and noise 0.3, no missing entries (their spirals are fully observed), and
``ModelConfig(latent_dim=4)``; the first 30 points observed, the other 70 extrapolated. Its
RMSE is reported next to their 0.1642, against the noisy targets and against the noiseless
spiral (0.1642 is below the noise of 0.3, so theirs must be the latter). Our series are a
shorter stretch of spiral (6π/10) sampled at irregular times, theirs 100 of 500 regular points
on [0, 6π], and they trained on 1,000 spirals for longer, so the comparison is indicative only.
It trains for ``--seconds`` too, which makes the full run with ``--chen`` about 26 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from models.latent.model import ModelConfig
from models.latent.predict import predict
from models.latent.train import (
    Config,
    Progress,
    TrainedModel,
    TrainingConfig,
    TrainingDivergedError,
    train,
)
from models.series import Dataset, Series
from models.synthetic import FAMILIES, spirals

TRAIN_SEED, TEST_SEED, EVAL_SEED = 0, 1, 2
INTERP_FRACTION = 0.2
EXTRAP_FRACTION = 0.5
INTERP_TARGET = 0.8  # latent / linear interpolation
EXTRAP_TARGET = 1 / 3  # latent / best of last value and linear trend
PROGRESS_EVERY = 10  # epochs
CHEN_OBSERVED, CHEN_POINTS, CHEN_NOISE, CHEN_LATENT = 30, 100, 0.3, 4
CHEN_REPORTED_RMSE = 0.1642

INTERP_METHODS = ("latent_ode", "linear", "cubic_spline")
EXTRAP_METHODS = ("latent_ode", "last_value", "linear_trend")

Baseline = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------- baselines


def linear(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Linear interpolation, constant beyond the ends."""
    return np.interp(query, times, values)


def cubic_spline(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """A natural cubic spline, constant beyond the ends; linear below 4 points."""
    if len(times) < 4:
        return linear(times, values, query)
    spline = CubicSpline(times, values, bc_type="natural")
    return spline(np.clip(query, times[0], times[-1]))


def last_value(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The last observed value everywhere."""
    return np.full(len(query), values[-1])


def linear_trend(times: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The least-squares line through every context point; the last value with one point."""
    if len(times) < 2:
        return last_value(times, values, query)
    slope, intercept = np.polyfit(times, values, 1)
    return slope * query + intercept


BASELINES: dict[str, Baseline] = {
    "linear": linear,
    "cubic_spline": cubic_spline,
    "last_value": last_value,
    "linear_trend": linear_trend,
}


def per_dimension(
    baseline: Baseline, context: Series, query: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Apply a one-dimensional baseline to each dimension's observed context points: [Tq, D]."""
    out = np.empty((len(query), context.dims))
    for d in range(context.dims):
        observed = ~np.isnan(context.values[:, d])
        if not observed.any():
            out[:, d] = fallback[d]
            continue
        out[:, d] = baseline(context.times[observed], context.values[observed, d], query)
    return out


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Split:
    """One held-out series split into observed rows (context) and rows to predict (targets)."""

    context: Series
    target_times: np.ndarray
    target_values: np.ndarray  # noisy, NaN where not observed
    target_clean: np.ndarray  # noiseless, same rows


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
    return np.arange(min(k, n - 1))


# ----------------------------------------------------------------------------- scoring


@dataclass
class Errors:
    """Squared errors pooled over every observed target entry, per method."""

    variance: np.ndarray  # per dimension, for the standardised figure
    raw: dict[str, float] = field(default_factory=dict)
    standardised: dict[str, float] = field(default_factory=dict)
    clean: dict[str, float] = field(default_factory=dict)
    floor: float = 0.0
    count: int = 0

    def add(self, method: str, task: Split, predicted: np.ndarray) -> None:
        mask = ~np.isnan(task.target_values)
        error = np.where(mask, predicted - np.nan_to_num(task.target_values), 0.0) ** 2
        error_clean = np.where(mask, predicted - task.target_clean, 0.0) ** 2
        self.raw[method] = self.raw.get(method, 0.0) + float(error.sum())
        self.standardised[method] = self.standardised.get(method, 0.0) + float(
            (error / self.variance).sum()
        )
        self.clean[method] = self.clean.get(method, 0.0) + float(error_clean.sum())

    def add_targets(self, task: Split) -> None:
        mask = ~np.isnan(task.target_values)
        self.count += int(mask.sum())
        noise = np.where(mask, np.nan_to_num(task.target_values) - task.target_clean, 0.0)
        self.floor += float((noise**2).sum())

    def summary(self, rmse: bool = False) -> dict[str, Any]:
        n = max(1, self.count)

        def scale(total: float) -> float:
            return math.sqrt(total / n) if rmse else total / n

        name = "rmse" if rmse else "mse"
        return {
            "targets": self.count,
            name: {m: scale(v) for m, v in self.raw.items()},
            f"{name}_standardised": {m: scale(v) for m, v in self.standardised.items()},
            f"{name}_vs_clean": {m: scale(v) for m, v in self.clean.items()},
            "noise_floor": scale(self.floor),
        }


def evaluate(
    trained: TrainedModel,
    tasks: list[Split],
    methods: tuple[str, ...],
    n_samples: int,
) -> Errors:
    """Every method's squared errors on every task."""
    normaliser = trained.normaliser
    errors = Errors(variance=np.asarray(normaliser.std) ** 2)
    fallback = np.asarray(normaliser.mean)
    for i, task in enumerate(tasks):
        errors.add_targets(task)
        for method in methods:
            if method == "latent_ode":
                answer = predict(
                    trained, task.context, task.target_times, n_samples=n_samples, seed=i
                )
                predicted = answer.mean
            else:
                predicted = per_dimension(
                    BASELINES[method], task.context, task.target_times, fallback
                )
            errors.add(method, task, predicted)
    return errors


def ratio(value: float, reference: float, target: float) -> dict[str, Any]:
    r = value / reference if reference > 0 else math.inf
    return {"value": r, "target": target, "ok": bool(r <= target)}


# ----------------------------------------------------------------------------- training


def train_model(
    name: str, dataset: Dataset, model: ModelConfig, seconds: float, device: str
) -> TrainedModel:
    """Train with default settings except the time budget, reporting progress to stderr."""
    config = Config(model=model, training=replace(TrainingConfig(), max_seconds=seconds))

    def report(p: Progress) -> None:
        if p.epoch == 1 or p.epoch % PROGRESS_EVERY == 0:
            log(
                f"[{name}] epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} val interp "
                f"{p.val_interp_mse:.4f} extrap {p.val_extrap_mse:.4f} (standardised) "
                f"{p.elapsed_s:.0f}s"
            )

    trained = train(config, dataset, on_progress=report, device=device)
    m = trained.metrics
    log(
        f"[{name}] done: {m['epochs_run']:.0f} epochs in {m['train_seconds']:.0f}s, best epoch "
        f"{m.get('best_epoch', float('nan')):.0f}"
    )
    return trained


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Settings:
    seconds: float
    n_train: int
    n_test: int
    n_samples: int
    device: str


def family_case(name: str, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train on one family and score both jobs; returns the record and its checked ratios."""
    generate = FAMILIES[name]
    train_set = generate(settings.n_train, seed=TRAIN_SEED)
    noisy = generate(settings.n_test, seed=TEST_SEED)
    clean = generate(settings.n_test, seed=TEST_SEED, noise=0.0)
    started = time.monotonic()
    try:
        trained = train_model(name, train_set, ModelConfig(), settings.seconds, settings.device)
    except TrainingDivergedError as error:
        record = {"case": name, "error": f"{type(error).__name__}: {error}"}
        failed = {"value": None, "ok": False}
        return record, {f"{name}.interp_vs_linear": failed, f"{name}.extrap_vs_best": failed}
    train_s = time.monotonic() - started

    rng = np.random.default_rng(EVAL_SEED)
    interp_tasks = [
        split(s, c, interpolation_rows(len(s), rng))
        for s, c in zip(noisy.series, clean.series, strict=True)
    ]
    extrap_tasks = [
        split(s, c, prefix_rows(len(s), round(EXTRAP_FRACTION * len(s))))
        for s, c in zip(noisy.series, clean.series, strict=True)
    ]
    started = time.monotonic()
    interp = evaluate(trained, interp_tasks, INTERP_METHODS, settings.n_samples)
    extrap = evaluate(trained, extrap_tasks, EXTRAP_METHODS, settings.n_samples)
    eval_s = time.monotonic() - started

    i_mse, e_mse = interp.summary()["mse"], extrap.summary()["mse"]
    best = min(("last_value", "linear_trend"), key=lambda m: e_mse[m])
    ratios = {
        f"{name}.interp_vs_linear": ratio(i_mse["latent_ode"], i_mse["linear"], INTERP_TARGET),
        f"{name}.extrap_vs_best": {
            **ratio(e_mse["latent_ode"], e_mse[best], EXTRAP_TARGET),
            "best_baseline": best,
        },
    }
    record = {
        "case": name,
        "series": {"train": settings.n_train, "test": settings.n_test},
        "points_per_series": len(noisy.series[0]),
        "dims": noisy.dims,
        "training": {**trained.metrics, "budget_s": settings.seconds, "wall_s": train_s},
        "eval_s": eval_s,
        "interpolation": {"observed_fraction": INTERP_FRACTION, **interp.summary()},
        "extrapolation": {"observed_fraction": EXTRAP_FRACTION, **extrap.summary()},
        "ratios": ratios,
        "latent_vs_cubic_spline": i_mse["latent_ode"] / i_mse["cubic_spline"],
    }
    return record, ratios


def chen_case(settings: Settings) -> dict[str, Any]:
    """Chen et al.'s spirals: latent 4, 100 points, noise 0.3, first 30 observed, RMSE on 70."""

    def generate(n: int, seed: int, noise: float) -> Dataset:
        return spirals(n, n_points=CHEN_POINTS, noise=noise, missing=0.0, seed=seed)

    train_set = generate(settings.n_train, TRAIN_SEED, CHEN_NOISE)
    noisy = generate(settings.n_test, TEST_SEED, CHEN_NOISE)
    clean = generate(settings.n_test, TEST_SEED, 0.0)
    model = ModelConfig(latent_dim=CHEN_LATENT)
    try:
        trained = train_model("chen_spirals", train_set, model, settings.seconds, settings.device)
    except TrainingDivergedError as error:
        return {"case": "chen_spirals", "error": f"{type(error).__name__}: {error}"}
    tasks = [
        split(s, c, prefix_rows(len(s), CHEN_OBSERVED))
        for s, c in zip(noisy.series, clean.series, strict=True)
    ]
    errors = evaluate(trained, tasks, EXTRAP_METHODS, settings.n_samples)
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
        "training": {**trained.metrics, "budget_s": settings.seconds},
        "extrapolation": errors.summary(rmse=True),
        "chen_reported_rmse": CHEN_REPORTED_RMSE,
    }


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 s per family, fewer series")
    parser.add_argument(
        "--seconds", type=float, help="training budget per family (the training default)"
    )
    parser.add_argument("--train-series", type=int, help="training series per family (200)")
    parser.add_argument("--test-series", type=int, help="held-out series per family (50)")
    parser.add_argument("--samples", type=int, default=100, help="posterior samples (100)")
    parser.add_argument(
        "--families",
        nargs="*",
        choices=sorted(FAMILIES),
        default=list(FAMILIES),
        help="families to run (all; give none with --chen for the Chen case alone)",
    )
    parser.add_argument("--chen", action="store_true", help="add Chen et al.'s spiral setting")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    quick = args.quick
    return Settings(
        seconds=args.seconds
        if args.seconds is not None
        else (30.0 if quick else TrainingConfig().max_seconds),
        n_train=args.train_series or (64 if quick else 200),
        n_test=args.test_series or (20 if quick else 50),
        n_samples=args.samples,
        device=args.device,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(TRAIN_SEED)
    settings = settings_from(args)
    started = time.monotonic()
    checked: dict[str, Any] = {}
    for name in args.families:
        record, ratios = family_case(name, settings)
        emit(record)
        checked.update(ratios)
    chen = chen_case(settings) if args.chen else None
    if chen is not None:
        emit(chen)
    summary: dict[str, Any] = {
        "summary": True,
        "quick": args.quick,
        "settings": asdict(settings),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "ratios": checked,
        "all_ok": bool(checked) and all(r["ok"] for r in checked.values()),
        "wall_s": time.monotonic() - started,
    }
    if chen is not None and "extrapolation" in chen:
        summary["chen_rmse"] = {
            "latent_ode_vs_clean": chen["extrapolation"]["rmse_vs_clean"]["latent_ode"],
            "latent_ode_vs_noisy": chen["extrapolation"]["rmse"]["latent_ode"],
            "reported": CHEN_REPORTED_RMSE,
        }
    emit(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
