"""How many consecutive observations to leave out when fitting linear interpolation's spread
(``Policy.gap_runs``): the pooled coverage of the provisional stage's gap intervals at the
corpus's hidden points, and by the width of the gap each hidden point sits in.

    .venv/bin/python bench/experiments/provisional/gap_runs.py [--full] [--runs 1 2 3 4]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import numpy as np  # noqa: E402
from corpus_catalog import single_series  # noqa: E402
from corpus_splits import origins  # noqa: E402

from models.forecast.gaps import fit_gap_spread  # noqa: E402
from models.forecast.policy import DEFAULT_POLICY  # noqa: E402
from models.series import Series  # noqa: E402

LEVELS = {80: (0.1, 0.9), 90: (0.05, 0.95)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args()
    corpus = [s for s in single_series() if s.quick or args.full]
    print("| gap_runs | cover 80 | cover 90 | 80 in 1-point gaps | 80 in wider gaps | points |")
    print("| --- | --- | --- | --- | --- | --- |")
    for runs in args.runs:
        policy = replace(DEFAULT_POLICY, gap_runs=runs)
        inside = {80: [], 90: []}
        single = []
        for series in corpus:
            for origin in origins(series):
                t, v = series.times[origin.train], series.values[origin.train]
                query = series.times[origin.hidden]
                query_ok = (query > t[0]) & (query < t[-1])
                query, truth = query[query_ok], series.values[origin.hidden][query_ok]
                if not len(query):
                    continue
                spread = fit_gap_spread([Series("s", t, v[:, None])], 0, policy)
                mean = np.interp(query, t, v)
                sd = np.sqrt(spread.variance(t, v, query))
                for level, (lo, hi) in LEVELS.items():
                    low, high = spread.quantiles(np.array([lo, hi]))
                    inside[level].append((truth >= mean + low * sd) & (truth <= mean + high * sd))
                right = np.searchsorted(t, query)
                index = series.index[origin.train]
                single.append(index[right] - index[right - 1] == 2)  # one point missing
        hits = {k: np.concatenate(v) for k, v in inside.items()}
        one = np.concatenate(single)
        print(
            f"| {runs} | {100 * hits[80].mean():.1f} | {100 * hits[90].mean():.1f} | "
            f"{100 * hits[80][one].mean():.1f} | {100 * hits[80][~one].mean():.1f} | "
            f"{len(one)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
