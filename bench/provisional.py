"""A fit's first answers: how soon after ``POST /fit`` ``/predict`` answers, and how good the
provisional stage that answers is, on the development corpus's single series.

    .venv/bin/python bench/provisional.py [--full] [--max-points 3000]

- **Latency**: per series (the quick subset, or every one with ``--full``; at most
  ``--max-points`` points: the rows before its latest origin), the wall time from ``POST /fit``
  to the first 200 from ``GET /predict`` at the next time, through a stack as ``odecast up``
  runs it (Redis, the API, one training worker, one light worker), twice: with the training
  worker idle, and with it busy training another model. Beside it, statsforecast's AutoETS and
  AutoTheta fitted and forecast on the same rows in the same run (``corpus_anchors``).
- **Quality**: the provisional stage (``fit_provisional``) fitted at each of the corpus's origins,
  its forecasts' MSE over the best naive method's (geometric mean over origins, then series, as
  ``bench/corpus.py`` reports it), and the pooled coverage of its 80% and 90% intervals, ahead
  and in the hidden gaps.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's models

import httpx
import numpy as np
from corpus_anchors import forecast_anchors
from corpus_catalog import single_series
from corpus_data import SingleSeries
from corpus_report import NAIVE, geometric_mean, series_ratios
from corpus_splits import origins
from stack import own_stack

from models.latent.provisional import fit_provisional
from models.latent.train import Config, fit_normaliser
from models.series import Dataset, Series, TimeKind

FIRST_ANSWER_TIMEOUT_S = 120.0
POLL_S = 0.05
# The busy worker's model: long enough to outlast every series' fit in the run.
BLOCKER_TRAINING = {"epochs": 100_000, "max_seconds": 3000}
LEVELS = (0.05, 0.1, 0.9, 0.95)
REFERENCE_METHODS = ("auto_ets", "auto_theta")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--full", action="store_true", help="every single series, not the quick subset"
    )
    parser.add_argument("--max-points", type=int, default=3000, help="longest series timed")
    args = parser.parse_args(argv)
    corpus = [s for s in single_series() if s.quick or args.full]
    timed = [s for s in corpus if origins(s)[-1].train.sum() <= args.max_points]
    latency = _latency(timed)
    print(_latency_table(latency))
    print()
    print(_quality(corpus))
    return 0


# ------------------------------------------------------------------------------------ latency


def _latency(corpus: list[SingleSeries]) -> dict[str, dict[str, float]]:
    """Per series: seconds to the first answer idle and busy, and the references' seconds."""
    seconds: dict[str, dict[str, float]] = {s.name: {} for s in corpus}
    for series in corpus:
        latest = origins(series)[-1]
        started = time.perf_counter()
        forecast_anchors(series, latest.train, latest.ahead, methods=REFERENCE_METHODS)
        seconds[series.name]["references"] = time.perf_counter() - started
    with own_stack(log_level="warning") as stack:
        stack.start_worker(burst=False)
        stack.start_worker(burst=False, light=True)
        with httpx.Client(base_url=stack.url, timeout=60.0) as client:
            for series in corpus:
                seconds[series.name]["idle"] = _first_answer(client, series, wait_cancelled=True)
                print(f"{series.name} idle done", file=sys.stderr, flush=True)
            blocker = _fit(client, corpus[0], BLOCKER_TRAINING)
            _wait(client, blocker["status_url"], ("running",))
            for series in corpus:
                seconds[series.name]["busy"] = _first_answer(client, series, wait_cancelled=False)
                print(f"{series.name} busy done", file=sys.stderr, flush=True)
            client.delete(f"/jobs/{blocker['job_id']}")
    return seconds


def _first_answer(client: httpx.Client, series: SingleSeries, *, wait_cancelled: bool) -> float:
    """Seconds from POST /fit to the first 200 from GET /predict; then the training is
    cancelled (and, when ``wait_cancelled``, waited for, so that the worker is idle again)."""
    started = time.perf_counter()
    accepted = _fit(client, series, {})
    params = {"model_id": accepted["model_id"], "series_id": "s", "t": _next_time(series)}
    while True:
        answer = client.get("/predict", params=params)
        if answer.status_code == 200:
            seconds = time.perf_counter() - started
            break
        if answer.status_code != 409 or time.perf_counter() - started > FIRST_ANSWER_TIMEOUT_S:
            raise RuntimeError(f"{series.name}: /predict answered {answer.status_code}")
        time.sleep(POLL_S)
    if answer.json()["stage"] != "provisional":
        raise RuntimeError(f"{series.name}: the first answer came from the final stage")
    client.delete(f"/jobs/{accepted['job_id']}")
    if wait_cancelled:
        _wait(client, accepted["status_url"], ("cancelled", "succeeded", "failed"))
    return seconds


def _fit(client: httpx.Client, series: SingleSeries, training: dict) -> dict:
    train = origins(series)[-1].train
    times = series.times[train]
    sent = [_iso(t) for t in times] if series.datetime else times.tolist()
    body = {
        "series": [{"id": "s", "times": sent, "values": series.values[train].tolist()}],
        "training": training,
    }
    answer = client.post("/fit", json=body)
    if answer.status_code != 202:
        raise RuntimeError(f"{series.name}: POST /fit answered {answer.status_code}: {answer.text}")
    return dict(answer.json())


def _next_time(series: SingleSeries) -> str:
    after = series.times[origins(series)[-1].ahead[0]]
    return _iso(after) if series.datetime else repr(float(after))


def _iso(posix: float) -> str:
    return datetime.fromtimestamp(float(posix), UTC).isoformat()


def _wait(client: httpx.Client, status_url: str, states: tuple[str, ...]) -> None:
    deadline = time.perf_counter() + FIRST_ANSWER_TIMEOUT_S
    while client.get(status_url).json()["status"] not in states:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{status_url} did not reach {states}")
        time.sleep(0.2)


def _latency_table(seconds: dict[str, dict[str, float]]) -> str:
    lines = [
        f"Latency, {len(seconds)} series: POST /fit to the first 200 from GET /predict (s)",
        "",
        "| | p50 | p90 | max |",
        "| --- | --- | --- | --- |",
    ]
    for column, label in (
        ("idle", "odecast, worker idle"),
        ("busy", "odecast, worker busy"),
        ("references", "AutoETS + AutoTheta fit and forecast"),
    ):
        values = np.array([s[column] for s in seconds.values()])
        p50, p90 = np.percentile(values, [50, 90])
        lines.append(f"| {label} | {p50:.2f} | {p90:.2f} | {values.max():.2f} |")
    slowest = max(seconds, key=lambda n: seconds[n]["busy"])
    lines.append("")
    lines.append(f"Slowest busy: {slowest} ({seconds[slowest]['busy']:.2f} s)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ quality


def _quality(corpus: list[SingleSeries]) -> str:
    records: dict[str, list[dict]] = {}
    covered = {"ahead": [], "gaps": []}
    for series in corpus:
        kind = TimeKind.DATETIME if series.datetime else TimeKind.NUMERIC
        for origin in origins(series):
            context = Series("s", series.times[origin.train], series.values[origin.train, None])
            dataset = Dataset((context,), kind)
            config = Config()
            model = fit_provisional(config, dataset, fit_normaliser(config, dataset))
            naive = forecast_anchors(series, origin.train, origin.ahead, methods=NAIVE)
            truth = series.values[origin.ahead]
            mean, quantiles = model.answer(context, series.times[origin.ahead], LEVELS)
            figures = {m: {"mse": float(np.mean((f.mean[:, 0] - truth) ** 2))} for m, f in
                       naive.items() if f is not None}  # fmt: skip
            figures["provisional"] = {"mse": float(np.mean((mean[:, 0] - truth) ** 2))}
            records.setdefault(series.name, []).append(
                {"variance": float(np.var(series.values[origin.train])), "forecast": figures}
            )
            covered["ahead"].append(_inside(quantiles, truth))
            if len(origin.hidden):
                hidden_truth = series.values[origin.hidden]
                _, gap_quantiles = model.answer(context, series.times[origin.hidden], LEVELS)
                covered["gaps"].append(_inside(gap_quantiles, hidden_truth))
        print(f"{series.name} scored", file=sys.stderr, flush=True)
    ratios = {name: series_ratios(rs)["provisional"] for name, rs in records.items()}
    worst = max(ratios, key=ratios.__getitem__)
    lines = [
        f"Quality, {len(ratios)} series at their origins: the provisional stage's forecast MSE "
        "over the best naive method's",
        "",
        f"- geometric mean {geometric_mean(ratios.values()):.3f}; worst {worst} "
        f"{ratios[worst]:.2f}; above 1: {sum(r > 1 for r in ratios.values())}",
    ]
    for where, parts in covered.items():
        inside = np.concatenate(parts) if parts else np.empty((0, 2))
        lines.append(
            f"- coverage {where} (80 / 90): {100 * inside[:, 0].mean():.1f} / "
            f"{100 * inside[:, 1].mean():.1f} over {len(inside)} points"
        )
    return "\n".join(lines)


def _inside(quantiles: dict[float, np.ndarray], truth: np.ndarray) -> np.ndarray:
    """[N, 2]: whether each truth lies in the 80% and the 90% interval."""
    return np.column_stack(
        [
            (quantiles[lo][:, 0] <= truth) & (truth <= quantiles[hi][:, 0])
            for lo, hi in ((0.1, 0.9), (0.05, 0.95))
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
