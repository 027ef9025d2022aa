"""One ``bench/corpus.py`` records file, interpolation by what served it: per served answer (linear
interpolation, the kriged answer, the monotone cubic, or a blend with the model's mean), its
origins, their geometric mean over linear interpolation, how many lie above the target and the
worst; then the single series' figures as served and with linear interpolation served in place of
the model's blend (and of the monotone cubic too), origin by origin.

    .venv/bin/python bench/experiments/evidence-units/served_choices.py RECORDS.jsonl [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this tree's models
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # compare_runs
from compare_runs import ODECAST, records
from corpus_report import TARGET_INTERPOLATION_WORST, geometric_mean, interpolation_ratios

from models.latent.skill import KRIGED_ONLY, LINEAR_ONLY, PCHIP_ONLY

BLEND_KEYS = ("restore", "straighten", "krige", "pchip")
ALONE: dict[tuple[float, ...], str] = {
    LINEAR_ONLY: "linear",
    KRIGED_ONLY: "kriged",
    PCHIP_ONLY: "pchip",
}
BLEND = "model blend"

Record = Mapping[str, Any]


def served_answer(record: Record) -> str:
    """The name of what served the record's interpolation."""
    blend = record["served"].get("interpolation", {}).get("blend", {})
    weights = tuple(round(float(blend.get(k, 0.0)), 6) for k in BLEND_KEYS)
    return ALONE.get(weights, BLEND)


def with_linear(record: Record) -> Record:
    """The record as if linear interpolation had served its interpolation."""
    interpolation = dict(record["interpolation"])
    interpolation[ODECAST] = {**interpolation[ODECAST], "mse": interpolation["linear"]["mse"]}
    return {**record, "interpolation": interpolation}


def series_figures(chosen: list[Record], swap: Callable[[str], bool]) -> str:
    """Geometric mean, count above the target and worst of the single series' interpolation
    ratios, with linear interpolation served at the origins whose served answer ``swap`` names."""
    by_series: dict[str, list[Record]] = defaultdict(list)
    for record in chosen:
        by_series[record["name"]].append(
            with_linear(record) if swap(served_answer(record)) else record
        )
    ratios = [interpolation_ratios(r).get(ODECAST) for r in by_series.values()]
    found = [r for r in ratios if r is not None]
    above = sum(r > TARGET_INTERPOLATION_WORST for r in found)
    return f"| {geometric_mean(found):.3f} | {above} | {max(found):.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chosen = [
        r
        for r in records(args.records, args.seed).values()
        if ODECAST in r["interpolation"] and r["interpolation"]["linear"]["n"]
    ]
    by_answer: dict[str, list[float]] = defaultdict(list)
    for record in chosen:
        ratio = interpolation_ratios([record]).get(ODECAST)
        if ratio is not None:
            by_answer[served_answer(record)].append(ratio)
    print("| served | origins | / linear | above target | worst |")
    print("| --- | --- | --- | --- | --- |")
    for answer, ratios in sorted(by_answer.items()):
        print(
            f"| {answer} | {len(ratios)} | {geometric_mean(ratios):.3f} | "
            f"{sum(r > TARGET_INTERPOLATION_WORST for r in ratios)} | {max(ratios):.2f} |"
        )
    print("\n| single series | / linear | above target | worst |")
    print("| --- | --- | --- | --- |")
    print("| as served " + series_figures(chosen, lambda answer: False))
    print("| linear where the model's blend served " + series_figures(chosen, {BLEND}.__contains__))
    print(
        "| linear where the blend or the monotone cubic served "
        + series_figures(chosen, {BLEND, "pchip"}.__contains__)
    )


if __name__ == "__main__":
    main()
