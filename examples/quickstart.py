"""Fit, wait, predict and plot with ``service.client.Client``, on ``examples/oscillators.csv``.

With the service running (``make run``), from the repository's folder::

    .venv/bin/python examples/quickstart.py [--url http://127.0.0.1:8000] [--max-seconds 60]

The same as ``odecast fit examples/oscillators.csv --wait`` then ``odecast predict``, in Python.
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from service.client import Client

HERE = Path(__file__).resolve().parent


def load_series(path: Path):
    """The CSV as ``Client.fit`` takes it: a pandas long frame if pandas is installed, else
    ``{id: (times, values)}`` read with the csv module (an empty cell is a missing value)."""
    try:
        import pandas as pd
    except ImportError:
        series: dict[str, tuple[list[float], list[list[float | None]]]] = {}
        with path.open(newline="") as file:
            for row in csv.DictReader(file):
                times, values = series.setdefault(row["id"], ([], []))
                times.append(float(row["time"]))
                values.append([float(row[c]) if row[c] else None for c in ("position", "velocity")])
        return series
    return pd.read_csv(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("ODECAST_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--plot", type=Path, default=Path("oscillator-0.png"))
    args = parser.parse_args()

    client = Client(args.url, os.environ.get("ODECAST_API_KEY"))
    accepted = client.fit(
        load_series(HERE / "oscillators.csv"),
        training={"max_seconds": args.max_seconds},
        name="quickstart oscillators",
        value_cols=["position", "velocity"],
    )
    print(f"job {accepted.job_id}, model {accepted.model_id}")
    job = client.wait(accepted.job_id)  # a progress bar on stderr
    if job.status != "succeeded":
        raise SystemExit(f"the job {job.status}: {job.error}")
    print("metrics:", client.model(accepted.model_id).metrics)

    # Inside the observed [0, 10] is interpolation, beyond it extrapolation.
    prediction = client.predict(
        accepted.model_id, series_id="oscillator-0", times=[2.5, 7.125, 12.0], level=[90]
    )
    for row in prediction.to_rows():
        print(row)
    client.plot(
        accepted.model_id, "oscillator-0", grid=(0, 15, 300), level=[50, 90], path=args.plot
    )
    print(f"wrote {args.plot}; delete the model with: odecast delete {accepted.model_id}")


if __name__ == "__main__":
    main()
