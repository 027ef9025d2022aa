"""Write ``examples/oscillators.csv``: 20 damped oscillators observed at 40 irregular times each.

The project's synthetic ``damped_oscillator`` family (``models.synthetic``): ``x'' + 2ζω x' +
ω² x = 0`` observed as (position, velocity) on [0, 10], with noise and about 10% of the values
missing (empty cells). Deterministic: run it again and the file is the same byte for byte::

    .venv/bin/python examples/make_csv.py            # writes examples/oscillators.csv
    .venv/bin/python examples/make_csv.py -o my.csv --series 40 --points 60 --seed 1
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from models.synthetic import damped_oscillator

HERE = Path(__file__).resolve().parent


def write_csv(path: Path, series: int = 20, points: int = 40, seed: int = 0) -> int:
    """Write the long-format CSV (id, time, position, velocity); return its number of rows."""
    dataset = damped_oscillator(series, n_points=points, seed=seed)
    rows = 0
    with path.open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["id", "time", "position", "velocity"])
        for s in dataset.series:
            for time, values in zip(s.times.tolist(), s.values.tolist(), strict=True):
                cells = ["" if math.isnan(v) else f"{v:.5f}" for v in values]
                writer.writerow([s.id, f"{time:.6f}", *cells])
                rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=HERE / "oscillators.csv")
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--points", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = write_csv(args.output, args.series, args.points, args.seed)
    print(f"wrote {args.output}: {args.series} series, {rows} rows")


if __name__ == "__main__":
    main()
