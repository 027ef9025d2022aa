"""Two ``bench/corpus.py`` records files of the same corpus and seed, series by series: each single
series' forecast over its best naive method's and interpolation over linear interpolation's in
both, the series that moved, and the overall figures beside each other.

    .venv/bin/python bench/experiments/evidence-units/compare_runs.py BEFORE.jsonl AFTER.jsonl \
        [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from corpus_report import (
    TARGET_INTERPOLATION_WORST,
    TARGET_WORST,
    geometric_mean,
    interpolation_ratios,
    series_ratios,
)

MOVED = 0.01  # a series has moved when a ratio differs between the runs by more than this share
ODECAST = "odecast"

Figures = dict[str, tuple[float, float]]  # series -> (forecast ratio, interpolation ratio)


def records(path: Path, seed: int) -> dict[str, Mapping[str, Any]]:
    """The single series' records of ``seed`` in one records file, by key (series and origin)."""
    found = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "series" and record["seed"] == seed and "error" not in record:
            found[record["key"]] = record
    return found


def two_runs(description: str) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    """The records (``records``) of the BEFORE and AFTER files and ``--seed`` a script's command
    line names."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    return records(args.before, args.seed), records(args.after, args.seed)


def figures(chosen: Sequence[Mapping[str, Any]]) -> Figures:
    """Each single series' odecast forecast and interpolation ratios over ``chosen`` records."""
    by_series: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in chosen:
        by_series[record["name"]].append(record)
    found = {}
    for name, records in by_series.items():
        forecast = series_ratios(records)[ODECAST]
        interpolation = interpolation_ratios(records).get(ODECAST, float("nan"))
        found[name] = (forecast, interpolation)
    return found


def summary(rows: Sequence[tuple[float, float]]) -> str:
    """Geometric means and counts above the targets of (forecast, interpolation) ratios."""
    forecasts = [f for f, _ in rows]
    interpolations = [i for _, i in rows if i == i]
    return (
        f"forecast {geometric_mean(forecasts):.3f}, "
        f"{sum(f > TARGET_WORST for f in forecasts)} above {TARGET_WORST}; "
        f"interpolation {geometric_mean(interpolations):.3f}, "
        f"{sum(i > TARGET_INTERPOLATION_WORST for i in interpolations)} above "
        f"{TARGET_INTERPOLATION_WORST}"
    )


def main() -> None:
    old, new = two_runs(__doc__.split("\n\n")[0])
    keys = old.keys() & new.keys()  # a run still under way is compared on what it has done
    before = figures([old[k] for k in keys])
    after = figures([new[k] for k in keys])
    common = sorted(before)
    print("| series | forecast before | after | interpolation before | after |")
    print("| --- | --- | --- | --- | --- |")
    moved = 0
    for name in common:
        (f0, i0), (f1, i1) = before[name], after[name]
        if abs(f1 / f0 - 1) > MOVED or abs(i1 / i0 - 1) > MOVED:
            moved += 1
            print(f"| {name} | {f0:.3f} | {f1:.3f} | {i0:.3f} | {i1:.3f} |")
    print(f"\n{moved} of {len(common)} series moved by more than {MOVED:.0%}.")
    print(f"before: {summary([before[n] for n in common])}")
    print(f"after:  {summary([after[n] for n in common])}")


if __name__ == "__main__":
    main()
