"""The forecasting pipeline alone (``models.forecast``, no latent ODE) on the corpus's
populations: each curve's hidden tail (``bench/corpus_splits.curve_splits``) forecast from its
read rows by the recipe chosen on every curve's read rows, under named policies.

Printed per population and policy: the served candidate, the MSE over the best of the last
value and the mean curve of the other curves (the corpus's references, same points), and the
80% interval's coverage. Run from the repository root:
``.venv/bin/python bench/experiments/populations/forecasts.py``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/

from corpus_anchors import mean_curve
from corpus_catalog import populations
from corpus_fits import _series_id
from corpus_splits import curve_splits

from models.forecast.pipeline import choose_forecast, forecast
from models.forecast.policy import DEFAULT_POLICY, Policy
from models.series import Series

POLICIES = {
    "default": DEFAULT_POLICY,
    "no-family": replace(DEFAULT_POLICY, family_series=10**9),
    "family-horizon-1/8": replace(DEFAULT_POLICY, family_horizon_share=0.125),
}


def score(name: str, policy: Policy) -> tuple[str, float, float] | None:
    population = next(p for p in populations() if p.name == name)
    splits = curve_splits(population)
    reads = [
        Series(_series_id(c.id), c.times[s.train], c.values[s.train])
        for c, s in zip(population.curves, splits, strict=True)
    ]
    recipe = choose_forecast(reads, (), policy)
    errors: dict[str, list[np.ndarray]] = {"served": [], "last_value": [], "mean_curve": []}
    inside = []
    for i, (curve, split, read) in enumerate(zip(population.curves, splits, reads, strict=True)):
        if not len(split.tail):
            continue
        truth = curve.values[split.tail]
        times = curve.times[split.tail]
        mean, quantiles = forecast(recipe, read, times, (0.1, 0.9))
        others = [(r.times, r.values) for j, r in enumerate(reads) if j != i]
        last = np.array(
            [read.values[~np.isnan(read.values[:, d]), d][-1] for d in range(read.dims)]
        )
        for key, answer in (
            ("served", mean),
            ("last_value", last),
            ("mean_curve", mean_curve(others, times)),
        ):
            errors[key].append((answer - truth) ** 2)
        inside.append((truth >= quantiles[0.1]) & (truth <= quantiles[0.9]))
    if not inside:
        return None  # no curve has its tail hidden
    mse = {k: float(np.nanmean(np.concatenate(v))) for k, v in errors.items()}
    best = min(mse["last_value"], mse["mean_curve"])
    covered = np.concatenate(inside)
    served = "/".join(sorted({d.candidate + ("+best" if d.partner else "") for d in recipe.dims}))
    return served, mse["served"] / best, 100 * float(np.mean(covered[~np.isnan(covered)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    args = parser.parse_args()
    names = [p.name for p in populations()]
    print("| population | " + " | ".join(args.policies) + " |")
    print("| --- |" + " --- |" * len(args.policies))
    ratios: dict[str, list[float]] = {p: [] for p in args.policies}
    for name in names:
        cells = []
        for policy in args.policies:
            scored = score(name, POLICIES[policy])
            if scored is None:
                break
            served, ratio, cover = scored
            ratios[policy].append(ratio)
            cells.append(f"{served} {ratio:.3f} ({cover:.0f}%)")
        if not cells:
            continue
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    means = [float(np.exp(np.mean(np.log(ratios[p])))) for p in args.policies]
    print("| geometric mean | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
