"""How many of the corpus's series would have an 80% coverage outside 60-95% by chance alone,
with intervals exactly calibrated: each series scored as the corpus scores it (its origins and
its points ahead of each), the forecast errors of each origin drawn from a process of known
variance per lead (independent errors; an AR(1) of coefficient 0.5; a random walk, whose
errors persist along a forecast path as most forecasts' do), 400 draws each.

    .venv/bin/python bench/experiments/forecast-pipeline/coverage_by_chance.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/

from corpus_catalog import single_series
from corpus_splits import origins

DRAWS = 400
Z80 = 1.2815515655446004  # the standard normal's 90% quantile: a central 80% interval


def errors(process: str, leads: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One forecast path's errors [leads] and their standard deviations [leads]."""
    shocks = rng.normal(size=leads)
    steps = np.arange(1, leads + 1)
    if process == "independent":
        return shocks, np.ones(leads)
    if process == "random walk":
        return np.cumsum(shocks), np.sqrt(steps)
    path, level = np.zeros(leads), 0.0
    for i, shock in enumerate(shocks):
        level = 0.5 * level + shock
        path[i] = level
    return path, np.sqrt((1 - 0.25**steps) / 0.75)


def main() -> None:
    rng = np.random.default_rng(0)
    leads = [[len(o.ahead) for o in origins(s)] for s in single_series()]
    print(f"| errors along a path | series expected outside 60-95% (of {len(leads)}) |")
    print("| --- | --- |")
    for process in ("independent", "AR(1) 0.5", "random walk"):
        outside = 0.0
        for per_origin in leads:
            for _ in range(DRAWS):
                inside = total = 0
                for count in per_origin:
                    path, sd = errors(process, count, rng)
                    inside += int(np.sum(np.abs(path) <= Z80 * sd))
                    total += count
                outside += not 0.6 <= inside / total <= 0.95
        print(f"| {process} | {outside / DRAWS:.1f} |")


if __name__ == "__main__":
    main()
