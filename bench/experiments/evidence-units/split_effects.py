"""Two ``bench/corpus.py`` records files of the same corpus and seed, interpolation origin by
origin, apart for the origins where the corpus hid points before the first one a fit reads (a
time there is a backcast) and the others: each group's geometric mean of the odecast
interpolation ratio to linear interpolation, how many origins lie above the target, the worst.

    .venv/bin/python bench/experiments/evidence-units/split_effects.py BEFORE.jsonl AFTER.jsonl \
        [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # compare_runs
from compare_runs import two_runs
from corpus_catalog import single_series
from corpus_report import TARGET_INTERPOLATION_WORST, geometric_mean, interpolation_ratios
from corpus_splits import origins

ODECAST = "odecast"


def hidden_before_first() -> dict[tuple[str, int], bool]:
    """(series, origin k) -> whether a hidden point lies before the first point a fit reads."""
    found = {}
    for series in single_series():
        for origin in origins(series):
            first = int(np.flatnonzero(origin.train)[0])
            found[(series.name, origin.k)] = bool((origin.hidden < first).any())
    return found


def main() -> None:
    old, new = two_runs(__doc__.split("\n\n")[0])
    backcast = hidden_before_first()
    groups: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        ratio_a = interpolation_ratios([a]).get(ODECAST)
        ratio_b = interpolation_ratios([b]).get(ODECAST)
        if ratio_a is not None and ratio_b is not None:
            groups[backcast[(a["name"], a["k"])]].append((ratio_a, ratio_b))
    print("| origins | count | before | after | above target, before | after | worst, before "
          "| after |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for has, pairs in groups.items():
        if not pairs:
            continue
        before, after = [p[0] for p in pairs], [p[1] for p in pairs]
        above = TARGET_INTERPOLATION_WORST
        print(
            f"| {'with' if has else 'without'} hidden points before the first | {len(pairs)} | "
            f"{geometric_mean(before):.3f} | {geometric_mean(after):.3f} | "
            f"{sum(r > above for r in before)} | {sum(r > above for r in after)} | "
            f"{max(before):.2f} | {max(after):.2f} |"
        )


if __name__ == "__main__":
    main()
