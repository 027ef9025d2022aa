"""Scores and targets shared by the quality benchmarks (``bench/quality.py``).

Every method answers the held-out entries of a case as a ``Forecast``: a point forecast [Q, D]
and, for the probabilistic methods (the latent ODE, Prophet), predicted quantiles at
``QUANTILE_LEVELS``. ``Scores`` pools, per method and over every observed target entry (NaN
targets are skipped), in the data's raw units:

- ``mse``: the mean squared error of the point forecast (the predictive mean for the latent ODE);
- ``crps``: the continuous ranked probability score, approximated from the predicted quantiles by
  the quantile-score integral CRPS = ∫ 2 QS_α dα over α in (0, 1), with QS_α the pinball loss of
  the α quantile, taken as the mean of 2 QS_α over the 19 levels 0.05, 0.10, ..., 0.95 (the tails
  beyond 5% and 95% are left out, so it reads slightly low). A point forecast's CRPS is its mean
  absolute error, which is what the naive methods get;
- ``coverage``: the percentage of targets inside the central 80% (quantiles 0.1-0.9) and 90%
  (0.05-0.95) intervals, for the methods with quantiles.

A ``Target`` is what a figure must reach (a ratio at most a limit, or a coverage within 5 points of
its nominal level); ``SeedFigures`` gathers one figure over the training seeds and judges its mean,
naming the worst seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# 0.05, 0.10, ..., 0.95: what the probabilistic methods are asked for.
QUANTILE_LEVELS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
# Nominal coverage (percent) -> the quantile levels bounding that central interval.
INTERVALS: Mapping[int, tuple[float, float]] = {80: (0.1, 0.9), 90: (0.05, 0.95)}
COVERAGE_TOLERANCE = 5.0  # percentage points either side of the nominal level


@dataclass(frozen=True)
class Forecast:
    """One method's answers at Q target rows.

    Attributes:
        mean: the point forecast, [Q, D].
        quantiles: level -> values [Q, D] at every ``QUANTILE_LEVELS`` level; empty for a
            point forecast.
    """

    mean: np.ndarray
    quantiles: Mapping[float, np.ndarray] = field(default_factory=dict)


@dataclass
class _Sums:
    """Running sums of one method's errors over the observed target entries."""

    squared: float = 0.0
    crps: float = 0.0
    covered: dict[int, int] = field(default_factory=dict)
    count: int = 0


@dataclass
class Scores:
    """MSE, CRPS and coverage per method, pooled over every observed target entry it was given."""

    sums: dict[str, _Sums] = field(default_factory=dict)

    def add(self, method: str, forecast: Forecast, targets: np.ndarray) -> None:
        """Score ``forecast`` against ``targets`` [Q, D] (NaN where not observed)."""
        observed = ~np.isnan(targets)
        y = targets[observed]
        sums = self.sums.setdefault(method, _Sums())
        sums.count += int(observed.sum())
        sums.squared += float(((forecast.mean[observed] - y) ** 2).sum())
        sums.crps += float(_crps(forecast, observed, y).sum())
        if forecast.quantiles:
            for nominal, (low, high) in INTERVALS.items():
                inside = (forecast.quantiles[low][observed] <= y) & (
                    y <= forecast.quantiles[high][observed]
                )
                sums.covered[nominal] = sums.covered.get(nominal, 0) + int(inside.sum())

    def mse(self, method: str) -> float:
        sums = self.sums[method]
        return sums.squared / max(1, sums.count)

    def summary(self) -> dict[str, Any]:
        """``targets``, and per method ``mse``, ``crps`` and (with quantiles) ``coverage``."""
        counts = {s.count for s in self.sums.values()}
        return {
            "targets": max(counts, default=0),
            "mse": {m: self.mse(m) for m in self.sums},
            "crps": {m: s.crps / max(1, s.count) for m, s in self.sums.items()},
            "coverage": {
                m: {str(n): 100.0 * c / max(1, s.count) for n, c in s.covered.items()}
                for m, s in self.sums.items()
                if s.covered
            },
        }

    def coverage(self, method: str, nominal: int) -> float:
        sums = self.sums[method]
        return 100.0 * sums.covered.get(nominal, 0) / max(1, sums.count)

    def merged(self, other: Scores) -> Scores:
        """Both sets of targets pooled together."""
        out = Scores()
        for scores in (self, other):
            for method, sums in scores.sums.items():
                into = out.sums.setdefault(method, _Sums())
                into.squared += sums.squared
                into.crps += sums.crps
                into.count += sums.count
                for nominal, covered in sums.covered.items():
                    into.covered[nominal] = into.covered.get(nominal, 0) + covered
        return out


def _crps(forecast: Forecast, observed: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-entry CRPS [N] of the observed entries: the quantile-score average, or the absolute
    error of a point forecast."""
    if not forecast.quantiles:
        return np.abs(forecast.mean[observed] - y)
    scores = [
        2.0 * _pinball(forecast.quantiles[level][observed], y, level) for level in QUANTILE_LEVELS
    ]
    return np.mean(scores, axis=0)


def _pinball(quantile: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """The quantile score of a predicted ``level`` quantile against targets ``y``."""
    return ((y < quantile).astype(np.float64) - level) * (quantile - y)


# ----------------------------------------------------------------------------- targets


RATIO_ROUNDING = 1e-9


@dataclass(frozen=True)
class Target:
    """What a figure must reach: at most ``limit`` or, with ``nominal``, within ``limit`` of it."""

    limit: float
    nominal: float | None = None

    def excess(self, value: float) -> float:
        """How far ``value`` lies past the requirement; at most 0 when it meets it."""
        if self.nominal is None:
            return value - self.limit
        return abs(value - self.nominal) - self.limit

    def ok(self, value: float) -> bool:
        """Met, up to float rounding: a model serving linear interpolation itself scores 1.0
        against it within 1e-12 either way."""
        return math.isfinite(value) and self.excess(value) <= RATIO_ROUNDING

    def __str__(self) -> str:
        if self.nominal is None:
            return f"<= {self.limit:g}"
        return f"{self.nominal:g} ± {self.limit:g}"


def coverage_targets() -> dict[str, Target]:
    """The coverage figures' names (``coverage_80``, ``coverage_90``) and targets."""
    return {coverage_name(n): Target(COVERAGE_TOLERANCE, float(n)) for n in INTERVALS}


def coverage_name(nominal: int) -> str:
    return f"coverage_{nominal}"


def coverage_values(scores: Scores, method: str) -> dict[str, float]:
    """``method``'s coverage of every interval in ``scores``, by figure name."""
    return {coverage_name(n): scores.coverage(method, n) for n in INTERVALS}


def ratio(value: float, reference: float) -> float:
    """value / reference; infinite when the reference is 0."""
    return value / reference if reference > 0 else math.inf


@dataclass(frozen=True)
class CaseRun:
    """One case trained with one seed.

    Attributes:
        record: everything measured, for its JSON line.
        values: the checked figures by name; infinite when training failed.
        targets: each checked figure's target, same names.
        ideal: the ideal predictor's figures, same names, where the case has one.
    """

    record: dict[str, Any]
    values: dict[str, float]
    targets: dict[str, Target]
    ideal: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def failed(record: dict[str, Any], targets: dict[str, Target]) -> CaseRun:
        """A run without results (training diverged): every figure infinite, so failed."""
        return CaseRun(record, {name: math.inf for name in targets}, targets)


@dataclass
class SeedFigures:
    """One checked figure of one case over the training seeds, and the ideal predictor's (the
    same for every seed), where the case has one."""

    target: Target
    per_seed: dict[int, float] = field(default_factory=dict)
    ideal: float | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.per_seed.values()))) if self.per_seed else math.nan

    @property
    def worst_seed(self) -> int:
        return max(self.per_seed, key=lambda seed: self.target.excess(self.per_seed[seed]))

    def record(self) -> dict[str, Any]:
        worst = self.worst_seed
        return {
            "target": str(self.target),
            "per_seed": {str(s): v for s, v in self.per_seed.items()},
            "mean": self.mean,
            "worst_seed": worst,
            "worst": self.per_seed[worst],
            "ok": self.target.ok(self.mean),
            "ideal": self.ideal,
            "ideal_ok": None if self.ideal is None else self.target.ok(self.ideal),
        }


def table(figures: Mapping[str, Mapping[str, SeedFigures]]) -> str:
    """A plain-text table: one row per case and figure, its seeds, mean, worst seed, ok, and the
    ideal predictor's figure ("-" without one; "!" marks a target it misses too)."""
    seeds = sorted({s for case in figures.values() for f in case.values() for s in f.per_seed})
    header = [
        "case",
        "figure",
        "target",
        *(f"seed {s}" for s in seeds),
        "mean",
        "worst",
        "ok",
        "ideal",
    ]
    rows = [header]
    for case, named in figures.items():
        for name, figure in named.items():
            values = [_number(figure.per_seed.get(s)) for s in seeds]
            worst = f"{_number(figure.per_seed[figure.worst_seed])} (seed {figure.worst_seed})"
            ok = "ok" if figure.target.ok(figure.mean) else "FAIL"
            ideal = _number(figure.ideal)
            if figure.ideal is not None and not figure.target.ok(figure.ideal):
                ideal += " !"
            row = [case, name, str(figure.target), *values, _number(figure.mean), worst, ok, ideal]
            rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
