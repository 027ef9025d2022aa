"""``python -m models.fit_body FAMILY``: print a ``POST /fit`` body of synthetic series.

For trying the service without data of your own (the README's walk-through uses it)::

    python -m models.fit_body damped_oscillator --series 40 --max-seconds 60 > fit.json
    curl -X POST localhost:8000/fit -H 'content-type: application/json' -d @fit.json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .store import dataset_to_json
from .synthetic import FAMILIES


def fit_body(family: str, series: int, points: int | None, seed: int, max_seconds: float) -> dict:
    """The body: the family's series as clients send them, and a training budget."""
    options: dict[str, Any] = {"seed": seed}
    if points is not None:
        options["n_points"] = points
    dataset = FAMILIES[family](series, **options)
    return {
        "name": f"{family} ({series} synthetic series)",
        "series": dataset_to_json(dataset)["series"],
        "training": {"max_seconds": max_seconds},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.fit_body", description=__doc__)
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("--series", type=int, default=40, help="how many series (default 40)")
    parser.add_argument("--points", type=int, default=None, help="points per series")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="training budget")
    args = parser.parse_args(argv)
    if args.series < 1 or (args.points is not None and args.points < 2):
        parser.error("--series must be at least 1 and --points at least 2")
    body = fit_body(args.family, args.series, args.points, args.seed, args.max_seconds)
    json.dump(body, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
