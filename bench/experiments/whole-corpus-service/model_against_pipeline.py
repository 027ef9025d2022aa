"""Where the service's answer (latent ODE and pipeline) differs from the forecasting pipeline's
alone, per single series of a ``bench/corpus.py`` records file: each one's forecast over the
best naive method's (``corpus_report.series_ratios``), what served the forecasts, and the
interpolation over linear interpolation's.

    .venv/bin/python bench/experiments/whole-corpus-service/model_against_pipeline.py \
        bench/.corpus-cache/records-full-<code>.jsonl [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from corpus_report import interpolation_ratios, series_ratios

CHANGED = 0.01  # a series counts as changed when the two ratios differ by more than this share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    by_series: dict[str, list[dict]] = defaultdict(list)
    for line in args.records.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "series" and record["seed"] == args.seed:
            by_series[record["name"]].append(record)
    rows = []
    for name, records in by_series.items():
        ratios = series_ratios(records)
        served = [r["served"].get("extrapolation_method", "?") for r in records]
        interpolation = interpolation_ratios(records).get("odecast", float("nan"))
        rows.append((ratios["odecast"] / ratios["pipeline"], name, ratios, served, interpolation))
    rows.sort(key=lambda row: -row[0])
    print("| series | odecast / best naive | pipeline / best naive | odecast / pipeline | "
          "the model's forecast method (each origin) | interpolation / linear |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    changed = [row for row in rows if abs(row[0] - 1) > CHANGED]
    for share, name, ratios, served, interpolation in changed:
        print(
            f"| {name} | {ratios['odecast']:.3f} | {ratios['pipeline']:.3f} | {share:.3f} | "
            f"{', '.join(served)} | {interpolation:.3f} |"
        )
    print(f"\n{len(changed)} of {len(rows)} series changed by more than {CHANGED:.0%}; "
          f"the rest answer as the pipeline does.")  # fmt: skip


if __name__ == "__main__":
    main()
