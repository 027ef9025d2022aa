"""Load test of the HTTP service: concurrent clients mixing /predict, /jobs and /models while a
model trains. Not a test of the suite: a script that prints a table, ratios and counts.

Run from the repository root::

    .venv/bin/python bench/load.py                     # its own stack; 32 clients, 2,000 requests
    .venv/bin/python bench/load.py --quick             # 300 requests, shorter baselines
    .venv/bin/python bench/load.py --clients 64 --requests 4000
    .venv/bin/python bench/load.py --api-key s3cret    # its stack with ODECAST_API_KEYS=s3cret
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 [--api-key KEY]   # `odecast up`

Without ``--url`` it starts a stack of its own (``bench/stack.py``) in a temporary folder: an
embedded Redis, the API (``python -m service.cli api``, the settings' defaults: two processes, one
torch thread each, predictions batched) and one worker (``python -m service.cli worker``: a forking
RQ worker that keeps running; its work horse trains with ``ODECAST_WORKER_TORCH_THREADS``, one
torch thread by default). Everything
it started is stopped at the end, also on an error, Ctrl-C or SIGTERM. With ``--url`` the
server's own workers train both models (``odecast up`` starts one worker by default; the training
job measured below needs a free worker, and waits up to 300 s for one); the CPU split is then not
measured; ``GET /models`` lists every model of that server; the two models made here are deleted
at the end (which cancels the training job). ``--api-key`` sends ``X-API-Key`` (and sets
``ODECAST_API_KEYS`` on a stack started here).

Two configurations in the same run, on the same store, Redis and models: the default API (the
settings' defaults: dynamic batching, ``ODECAST_API_WORKERS`` processes) and the unbatched one as
before batching (``ODECAST_PREDICT_BATCH_SIZE=1``, one process), on its own port. The load (phase
4) runs against the unbatched API first, then the default one, each between idle baselines; issue
11's targets for the default are printed at the end, with its throughput over the unbatched one.

Phases:

1. Train the served model (the default architecture, 30 epochs on 8 series x 40 points, as in
   ``bench/serving.py``) to completion; then ``POST /fit`` a longer training (128 series x 50
   points, 100,000 epochs, learning rate 1e-4, ``--train-seconds`` budget, default 600 s) that
   runs through the rest (0.25-0.4 CPU seconds per epoch on an idle machine: a few hundred
   epochs in a default run). At that rate the validation error keeps improving, so early stopping
   (200 epochs without a better one) is unlikely to end it; if anything does, the status at the
   load's end says so, and the epochs/s under load cover only the part of the load it ran
   through. The small rate also keeps the cost of an epoch steady: the decoder's solver is
   adaptive, and at the default rate (5e-3) the dynamics stiffen as they learn, so that an epoch
   takes 2.5x the evaluations after 50 epochs that it took in the first 10 (1.1x at 1e-4, over
   120 epochs): before/during would compare two stages of training, not an idle API and a loaded
   one. The job is cancelled at the end.
2. Warm-up: each kind of request once (loads the model; the first PNG imports matplotlib). Then
   the first 10 requests of each kind (3 with ``--quick``) one at a time, one client: the ``alone
   p50`` column, and ``p50 x``, the p50 under load over it (the training runs meanwhile).
3. Baseline (``--baseline-seconds``): the training job's epochs/s with the API idle, from its
   progress (``GET /jobs``: epoch and ``elapsed_s``, written at epoch ends); ``GET /healthz``
   every 0.1 s meanwhile.
4. Load: ``--clients`` threads (one ``httpx.Client`` each) share a fixed, seeded list of
   ``--requests`` requests and send them as fast as they are answered. The mix:

   ===========================================  ======  ========
   request                                      share   expected
   ===========================================  ======  ========
   GET /predict, a training series, 100 times   50%     200
   POST /predict, a new series (40 points)      10%     200
   GET /predict.png, as GET /predict            5%      200
   GET /jobs/{job_id}, the running job          15%     200
   GET /models                                  10%     200
   GET /models/{model_id}, one of the two       5%      200
   GET /predict, unknown model                  2%      404
   GET /predict, invalid query (3 kinds)        2%      422
   GET /models/{model_id}, unknown model        1%      404
   ===========================================  ======  ========

   Meanwhile ``GET /healthz`` every 0.1 s (a liveness probe under load). The job must be
   ``running`` when the load starts. Its epochs/s during the load are taken from the load's own
   ``GET /jobs`` answers (the first epoch end after the load began to the last one before it
   ended).
5. The baseline again after each configuration's load: every load lies between two idle
   baselines and its epochs/s are compared with their mean. An epoch's cost still drifts as the
   job trains (0.10 -> 0.18 CPU seconds over the 250 epochs of one run, with no load after the
   second baseline), and the machine is shared: a baseline only next to the load is a fair one.
   Then the job is cancelled.

Printed: per kind of request (route template; the deliberately bad ones on rows of their own) and
in all: the count of each status code, exceptions (timeouts, connection errors), p50/p90/p99/max
latency (client-side, ms) and requests per second over the load's wall time; a line ``5xx: N``;
the job's status and epoch at the load's start and end; epochs/s before, during and after the
load and their ratio (the API and the training share the machine's cores; the ratio is what holds
on a shared, noisy machine); ``/healthz`` p50/p99 idle and under load; with a stack started here,
the cores that the API, the worker (with its work horse) and this client kept busy in each phase,
and the worker's CPU seconds per epoch (more under load: time lost to contention, not to a
smaller share of the CPU).

Exit code: 1 if any answer was a 5xx, any request raised (timeout, connection error), any status
differed from the expected one, or the job was not running when the load started; else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import httpx
import numpy as np
from stack import (
    DIMS,
    READY_TIMEOUT_S,
    SEED,
    TRAIN_POINTS,
    TRAIN_SERIES,
    UNBATCHED_ENV,
    Stack,
    make_series,
    own_stack,
    submit_fit,
    train_body,
    train_model,
    tree_cpu_s,
    wait_ready,
)

REQUEST_TIMEOUT_S = 60.0
PROBE_EVERY_S = 0.1
JOB_START_TIMEOUT_S = 300.0
# Issue 11's targets for the mixed load while a job trains.
LOAD_RPS, LOAD_P99_MS, TRAINING_KEPT = 120.0, 500.0, 0.8
WARM_EPOCHS = 3  # the job's first epochs are not measured (allocations, first solves)
TRAIN_EPOCHS = 30  # the served model's

# The training that runs during the load (0.25-0.4 CPU seconds per epoch when the machine is
# idle). A small learning rate keeps the cost of an epoch steady (see the docstring).
LONG_SERIES, LONG_POINTS, LONG_EPOCHS, LONG_LR = 128, 50, 100_000, 1e-4
NEW_SERIES_POINTS = 40  # the series of POST /predict
UNKNOWN_MODEL = "m-bench-load-unknown"


# ----------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Plan:
    clients: int
    requests: int
    baseline_s: float
    n_times: int
    train_seconds: float
    seed: int
    alone: int  # requests of each kind sent one at a time before the load


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 requests, 5 s baselines")
    parser.add_argument("--url", help="an API already running, e.g. `odecast up` (default: start)")
    parser.add_argument("--api-key", help="send X-API-Key (and set ODECAST_API_KEYS if started)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--requests", type=int, help="requests in all (2,000; --quick 300)")
    parser.add_argument(
        "--baseline-seconds", type=float, help="each training baseline (15; --quick 6)"
    )
    parser.add_argument("--times", type=int, default=100, help="timestamps per prediction (100)")
    parser.add_argument(
        "--train-seconds",
        type=float,
        default=600.0,
        help="max_seconds of the training job that runs during the load (600; cancelled after)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="of the request mix (0)")
    parser.add_argument("--log-level", default="warning", help="ODECAST_LOG_LEVEL if started")
    args = parser.parse_args()
    if args.clients < 1 or (args.requests is not None and args.requests < 1):
        parser.error("--clients and --requests must be at least 1")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    requests = args.requests or (300 if args.quick else 2000)
    baseline_s = args.baseline_seconds or (6.0 if args.quick else 15.0)
    alone = 3 if args.quick else 10
    return Plan(
        args.clients, requests, baseline_s, args.times, args.train_seconds, args.seed, alone
    )


# ----------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Kind:
    label: str  # the route template, and what is wrong with the bad ones
    share: float
    expected: int


KINDS = (
    Kind("GET /predict", 0.50, 200),
    Kind("POST /predict", 0.10, 200),
    Kind("GET /predict.png", 0.05, 200),
    Kind("GET /jobs/{job_id}", 0.15, 200),
    Kind("GET /models", 0.10, 200),
    Kind("GET /models/{model_id}", 0.05, 200),
    Kind("GET /predict: unknown model", 0.02, 404),
    Kind("GET /predict: invalid query", 0.02, 422),
    Kind("GET /models/{model_id}: unknown", 0.01, 404),
)
JOBS_KIND = 3
# Invalid queries: a time that is not one, n_samples below 1, a parameter /predict does not know.
INVALID_QUERIES = ({"times": "1.0,abc"}, {"n_samples": "0"}, {"bogus": "1"})


@dataclass(frozen=True)
class Request:
    kind: int  # index in KINDS
    method: str
    path: str
    params: dict[str, str] | None = None
    body: bytes | None = None


@dataclass(frozen=True)
class Ids:
    served: str  # the model that predictions use
    training: str  # the model being trained during the load
    job: str  # its job


def predict_params(model_id: str, series_id: str, n_times: int) -> dict[str, str]:
    times = np.linspace(0.0, 12.0, n_times)  # the series span [0, 10]: some extrapolation
    return {
        "model_id": model_id,
        "series_id": series_id,
        "times": ",".join(f"{t:.4f}" for t in times),
    }


def build_requests(plan: Plan, ids: Ids) -> list[Request]:
    """The load: ``plan.requests`` requests drawn from KINDS with ``plan.seed``."""
    rng = np.random.default_rng(plan.seed)
    shares = np.array([k.share for k in KINDS])
    kinds = rng.choice(len(KINDS), size=plan.requests, p=shares / shares.sum())
    times = np.linspace(0.0, 12.0, plan.n_times).round(4).tolist()

    def served_series() -> str:
        return f"s{int(rng.integers(TRAIN_SERIES))}"

    requests = []
    for i, kind in enumerate(int(k) for k in kinds):
        label = KINDS[kind].label
        if label in ("GET /predict", "GET /predict.png"):
            path = label.split()[1]
            params = predict_params(ids.served, served_series(), plan.n_times)
            requests.append(Request(kind, "GET", path, params))
        elif label == "POST /predict":
            series = make_series(1, NEW_SERIES_POINTS, seed=plan.seed + 1000 + i)[0]
            series["id"] = f"new-{i}"
            body = {"model_id": ids.served, "series": series, "times": times}
            requests.append(Request(kind, "POST", "/predict", body=json.dumps(body).encode()))
        elif label == "GET /jobs/{job_id}":
            requests.append(Request(kind, "GET", f"/jobs/{ids.job}"))
        elif label == "GET /models":
            requests.append(Request(kind, "GET", "/models"))
        elif label == "GET /models/{model_id}":
            model = ids.served if rng.uniform() < 0.5 else ids.training
            requests.append(Request(kind, "GET", f"/models/{model}"))
        elif label == "GET /predict: unknown model":
            params = predict_params(UNKNOWN_MODEL, served_series(), plan.n_times)
            requests.append(Request(kind, "GET", "/predict", params))
        elif label == "GET /predict: invalid query":
            params = predict_params(ids.served, served_series(), plan.n_times)
            params.update(INVALID_QUERIES[int(rng.integers(len(INVALID_QUERIES)))])
            requests.append(Request(kind, "GET", "/predict", params))
        elif label == "GET /models/{model_id}: unknown":
            requests.append(Request(kind, "GET", f"/models/{UNKNOWN_MODEL}"))
        else:  # pragma: no cover - KINDS and this function go together
            raise AssertionError(label)
    return requests


def long_training_body(plan: Plan) -> dict[str, Any]:
    series = make_series(LONG_SERIES, LONG_POINTS, seed=SEED + 2)
    training = {
        "epochs": LONG_EPOCHS,
        "lr": LONG_LR,
        "max_seconds": plan.train_seconds,
        "seed": SEED,
    }
    return {"series": series, "training": training, "name": "bench-load-training"}


# ----------------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    status: int | None  # None: the request raised
    latency_ms: float
    error: str | None = None  # the exception, or the start of an unexpected answer
    progress: tuple[int, float] | None = None  # GET /jobs: the job's (epoch, elapsed_s)


def send(client: httpx.Client, request: Request) -> Outcome:
    headers = {"content-type": "application/json"} if request.body is not None else None
    started = time.perf_counter()
    try:
        response = client.request(
            request.method, request.path, params=request.params, content=request.body,
            headers=headers,
        )  # fmt: skip
    except httpx.HTTPError as err:
        return Outcome(None, (time.perf_counter() - started) * 1e3, f"{type(err).__name__}: {err}")
    latency = (time.perf_counter() - started) * 1e3
    outcome = Outcome(response.status_code, latency)
    if response.status_code != KINDS[request.kind].expected:
        outcome.error = f"{response.status_code}: {response.text[:300]}"
    elif request.kind == JOBS_KIND:
        outcome.progress = job_progress(response.json())
    return outcome


def job_progress(job: dict[str, Any]) -> tuple[int, float] | None:
    progress = job.get("progress") or {}
    epoch, elapsed = progress.get("epoch"), progress.get("elapsed_s")
    return None if epoch is None or elapsed is None else (int(epoch), float(elapsed))


@dataclass
class Probe:
    """``GET /healthz`` every PROBE_EVERY_S in a thread, while the ``with`` block runs."""

    url: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[Probe]:
        done = threading.Event()

        def loop() -> None:
            with httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_S) as client:
                while not done.wait(PROBE_EVERY_S):
                    started = time.perf_counter()
                    try:
                        ok = client.get("/healthz").status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    self.latencies_ms.append((time.perf_counter() - started) * 1e3)
                    self.errors += not ok

        thread = threading.Thread(target=loop, name="healthz-probe", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            done.set()
            thread.join(REQUEST_TIMEOUT_S)


@dataclass
class LoadResult:
    requests: list[Request]
    outcomes: list[Outcome]  # of each request, in the same order
    wall_s: float
    client_cpu_s: float


def run_load(url: str, headers: dict[str, str], plan: Plan, requests: list[Request]) -> LoadResult:
    """``plan.clients`` threads take the next request of the list until none is left. They
    connect first, then start together at a barrier; the wall time runs from there to the last
    answer."""
    outcomes: list[Outcome | None] = [None] * len(requests)
    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    # A timeout: a client that cannot connect breaks the barrier instead of hanging the run.
    barrier = threading.Barrier(plan.clients + 1, timeout=READY_TIMEOUT_S)

    def take() -> int | None:
        with lock:
            return next(cursor, None)

    def client_loop() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
            with contextlib.suppress(httpx.HTTPError):  # connect before the clock starts
                client.get("/healthz")
            barrier.wait()
            while (index := take()) is not None:
                outcomes[index] = send(client, requests[index])

    threads = [
        threading.Thread(target=client_loop, name=f"client-{i}", daemon=True)
        for i in range(plan.clients)
    ]
    for thread in threads:
        thread.start()
    # Read before the barrier opens (the clients wait there, idle): afterwards this thread may
    # get the GIL back only once the clients are done.
    cpu_before, started = time.process_time(), time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    missing = Outcome(None, 0.0, "not sent (its client thread died)")
    done = [o if o is not None else missing for o in outcomes]
    return LoadResult(requests, done, wall, time.process_time() - cpu_before)


# ----------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Mark:
    """The training job as ``GET /jobs`` showed it."""

    status: str
    epoch: int | None
    elapsed_s: float | None


def read_job(client: httpx.Client, job_id: str) -> Mark:
    answer = client.get(f"/jobs/{job_id}")
    answer.raise_for_status()
    job = answer.json()
    progress = job_progress(job)
    return Mark(job["status"], *(progress if progress is not None else (None, None)))


@dataclass(frozen=True)
class Rate:
    epochs: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.epochs / self.seconds if self.seconds > 0 else float("nan")

    def __str__(self) -> str:
        return f"{self.per_s:.3f} epochs/s ({self.epochs} epochs in {self.seconds:.1f} s)"


def rate_between(first: tuple[int, float] | None, last: tuple[int, float] | None) -> Rate | None:
    if first is None or last is None or last[0] <= first[0]:
        return None
    return Rate(last[0] - first[0], last[1] - first[1])


def as_progress(mark: Mark) -> tuple[int, float] | None:
    return None if mark.epoch is None or mark.elapsed_s is None else (mark.epoch, mark.elapsed_s)


def wait_running(client: httpx.Client, job_id: str) -> Mark:
    """Until the job runs and has done WARM_EPOCHS epochs."""
    deadline = time.monotonic() + JOB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        mark = read_job(client, job_id)
        if mark.status in ("succeeded", "failed", "cancelled"):
            raise RuntimeError(f"the training job {job_id} ended before the load: {mark.status}")
        if mark.status == "running" and (mark.epoch or 0) >= WARM_EPOCHS:
            return mark
        time.sleep(0.2)
    raise RuntimeError(f"the training job {job_id} did not run within {JOB_START_TIMEOUT_S:g} s")


CpuClock = Callable[[], dict[str, float]]  # CPU seconds so far of each part started here


def stack_cpu_clock(stack: Stack, api: subprocess.Popen[bytes] | None) -> CpuClock:
    def clock() -> dict[str, float]:
        parts = {"API": api, "worker": stack.worker}
        cpu = {name: tree_cpu_s(p.pid) for name, p in parts.items() if p is not None}
        cpu["this client"] = time.process_time()
        return cpu

    return clock


@dataclass
class Phase:
    """A measured stretch: the job's progress at its ends, /healthz meanwhile, CPU used."""

    name: str
    rate: Rate | None = None
    probe: Probe | None = None
    cores: dict[str, float] = field(default_factory=dict)
    note: str = ""


@contextlib.contextmanager
def cpu_phase(phase: Phase, clock: CpuClock | None) -> Iterator[None]:
    before, started = (clock() if clock else {}), time.perf_counter()
    yield
    wall = time.perf_counter() - started
    if clock is not None and wall > 0:
        after = clock()
        phase.cores = {k: (after[k] - before[k]) / wall for k in after if k in before}


def baseline(
    name: str, url: str, client: httpx.Client, job_id: str, seconds: float, clock: CpuClock | None
) -> Phase:
    """The job's epochs/s with the API idle but for a /healthz probe."""
    probe = Probe(url)
    phase = Phase(name, probe=probe)
    with cpu_phase(phase, clock), probe.running():
        first = read_job(client, job_id)
        time.sleep(seconds)
        last = read_job(client, job_id)
    phase.rate = rate_between(as_progress(first), as_progress(last))
    return phase


# ----------------------------------------------------------------------------------- report


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def print_header(plan: Plan, url: str, started_here: bool) -> None:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("machine")
    print(f"  CPUs: {os.cpu_count()} (usable here: {usable}); load average {load}")
    where = "started here, with one worker" if started_here else "--url: its own workers"
    print(f"  python {sys.version.split()[0]}; API: {url} ({where})")
    print("settings")
    print(
        f"  {plan.requests:,} requests from {plan.clients} clients, mix seeded {plan.seed}; "
        f"predictions at {plan.n_times} times; /healthz every {PROBE_EVERY_S:g} s"
    )
    print(
        f"  served model: default architecture, {TRAIN_EPOCHS} epochs on {TRAIN_SERIES} x "
        f"{TRAIN_POINTS} points x {DIMS}-D"
    )
    print(
        f"  training during the load: {LONG_SERIES} x {LONG_POINTS} points, {LONG_EPOCHS:,} "
        f"epochs at lr {LONG_LR:g}, max {plan.train_seconds:g} s; baselines "
        f"{plan.baseline_s:g} s before and after each load",
        flush=True,
    )


def print_table(result: LoadResult, alone: dict[int, list[float]]) -> None:
    """One row per kind of request and one for all: status counts, latencies under load,
    requests per second; ``alone p50``: the same requests one at a time before the load."""
    codes = sorted({o.status for o in result.outcomes if o.status is not None})
    pairs = list(zip(result.requests, result.outcomes, strict=True))
    rows = [
        (k.label, [o for r, o in pairs if r.kind == i], alone.get(i, []))
        for i, k in enumerate(KINDS)
    ]
    rows.append(("all", result.outcomes, []))
    width = max(len(label) for label, _, _ in rows)
    header = (
        f"{'request':<{width}} {'n':>5} "
        + " ".join(f"{code:>5}" for code in codes)
        + f" {'exc':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>7}"
        + f" {'alone p50':>9} {'p50 x':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, outcomes, single in rows:
        if label == "all":
            print("-" * len(header))
        counts = Counter(o.status for o in outcomes)
        latencies = [o.latency_ms for o in outcomes if o.status is not None]
        cells = " ".join(f"{counts[code] or '-':>5}" for code in codes)
        p50, p50_alone = percentile(latencies, 50), percentile(single, 50)
        ratio = f"{p50 / p50_alone:>6.1f}" if single else f"{'':>6}"
        line = (
            f"{label:<{width}} {len(outcomes):>5} {cells} {counts[None] or '-':>4} "
            f"{p50:>8.1f} {percentile(latencies, 90):>8.1f} "
            f"{percentile(latencies, 99):>8.1f} {max(latencies, default=float('nan')):>8.1f} "
            f"{len(outcomes) / result.wall_s:>7.1f} "
            + (f"{p50_alone:>9.1f} {ratio}" if single else "")
        )
        print(line.rstrip())


def print_problems(result: LoadResult) -> tuple[int, int, int]:
    """The counts of 5xx answers, exceptions and unexpected statuses, and a few examples."""
    server_errors = sum(1 for o in result.outcomes if o.status is not None and o.status >= 500)
    exceptions = sum(1 for o in result.outcomes if o.status is None)
    unexpected = [
        (r, o)
        for r, o in zip(result.requests, result.outcomes, strict=True)
        if o.status != KINDS[r.kind].expected
    ]
    print(
        f"5xx: {server_errors}; exceptions (timeouts, connection errors): {exceptions}; "
        f"statuses other than expected: {len(unexpected)}"
    )
    for request, outcome in unexpected[:5]:
        print(f"  e.g. {KINDS[request.kind].label} ({request.path}): {outcome.error}")
    return server_errors, exceptions, len(unexpected)


def print_training(job_id: str, run: LoadRun) -> None:
    start, end, during = run.start, run.end, run.during
    print(
        f"training job {job_id}: {start.status} at the load's start (epoch {start.epoch}), "
        f"{end.status} at its end (epoch {end.epoch} of {LONG_EPOCHS:,})"
    )
    if end.status != "running":
        print("  the job ended during the load: its epochs/s under load cover only part of it")
    for phase in (run.idle_before, during, run.idle_after):
        if phase is not None:
            print(f"  {phase.name:<16} {phase.rate or 'no epoch ended'}{phase.note}")
    idle = idle_rate(run)
    if during.rate is not None and idle:
        rates = [p.rate.per_s for p in (run.idle_before, run.idle_after) if p and p.rate]
        spread = f"; after / before {rates[1] / rates[0]:.2f}x" if len(rates) == 2 else ""
        print(
            f"  ratio: during the load / idle (mean of the baselines around it) "
            f"{during.rate.per_s / idle:.2f}x{spread}"
        )


def print_health(phases: list[Phase]) -> None:
    print(f"GET /healthz every {PROBE_EVERY_S:g} s (ms)")
    for phase in phases:
        probe = phase.probe
        if probe is None:
            continue
        values = probe.latencies_ms
        print(
            f"  {phase.name:<16} n {len(values):>4}  p50 {percentile(values, 50):6.1f}  "
            f"p99 {percentile(values, 99):7.1f}  max {max(values, default=float('nan')):7.1f}"
            f"  errors {probe.errors}"
        )


def print_cores(phases: list[Phase]) -> None:
    """The cores each part kept busy, and the worker's CPU seconds per epoch (the job's epochs/s
    come from a window within the phase's: an estimate)."""
    if not any(p.cores for p in phases):
        return
    print(f"CPU (cores kept busy, of {os.cpu_count()}; the worker's CPU seconds per epoch)")
    for phase in phases:
        cells = ", ".join(f"{name} {cores:.2f}" for name, cores in phase.cores.items())
        worker = phase.cores.get("worker")
        if worker is not None and phase.rate is not None and phase.rate.per_s > 0:
            cells += f"; worker {worker / phase.rate.per_s:.2f} CPU s/epoch"
        print(f"  {phase.name:<16} {cells}")


# ----------------------------------------------------------------------------------- main


def warm_up(client: httpx.Client, requests: list[Request]) -> None:
    """Each kind of request once, before anything is measured."""
    for kind in range(len(KINDS)):
        request = next((r for r in requests if r.kind == kind), None)
        if request is not None:
            outcome = send(client, request)
            if outcome.error is not None:
                raise RuntimeError(f"warm-up {KINDS[kind].label}: {outcome.error}")


def alone(client: httpx.Client, requests: list[Request], repeats: int) -> dict[int, list[float]]:
    """The first ``repeats`` requests of each kind, one at a time: latencies (ms) by kind."""
    latencies: dict[int, list[float]] = {}
    for kind in range(len(KINDS)):
        for request in [r for r in requests if r.kind == kind][:repeats]:
            outcome = send(client, request)
            if outcome.error is not None:
                raise RuntimeError(f"{KINDS[kind].label}, one client: {outcome.error}")
            latencies.setdefault(kind, []).append(outcome.latency_ms)
    return latencies


@dataclass
class LoadRun:
    """One configuration's load: the answers, the training meanwhile, the job's marks."""

    result: LoadResult
    during: Phase
    start: Mark
    end: Mark
    idle_before: Phase | None = None  # the idle baselines around this load
    idle_after: Phase | None = None


def load_phase(
    name: str,
    url: str,
    client: httpx.Client,
    plan: Plan,
    ids: Ids,
    requests: list[Request],
    clock: CpuClock | None,
) -> LoadRun | None:
    """The load against ``url`` while the job trains (None if the job is not running)."""
    headers = dict(client.headers)
    start = read_job(client, ids.job)
    if start.status != "running":
        print(f"the training job is {start.status} at the load's start, not running: NOT OK")
        return None
    probe = Probe(url)
    during = Phase(f"load, {name}", probe=probe)
    print(f"load ({name}): {plan.requests:,} requests, {plan.clients} clients ...", flush=True)
    with cpu_phase(during, clock), probe.running():
        result = run_load(url, headers, plan, requests)
    end = read_job(client, ids.job)
    # The load's own GET /jobs answers: the first epoch end after it began, the last one.
    seen = sorted({o.progress for o in result.outcomes if o.progress is not None})
    inside = [p for p in seen if p[0] > (start.epoch or 0)]
    during.rate = rate_between(inside[0], inside[-1]) if len(inside) > 1 else None
    if during.rate is None:  # a short load: the reads just before and after it
        during.rate = rate_between(as_progress(start), as_progress(end))
        during.note = " (from the reads just before and after the load)"
    return LoadRun(result, during, start, end)


def measure(
    urls: dict[str, str],
    headers: dict[str, str],
    plan: Plan,
    ids: Ids,
    clocks: dict[str, CpuClock | None],
) -> bool:
    """The load against each configuration in ``urls`` (the default last), each between two idle
    baselines of the training job."""
    requests = build_requests(plan, ids)
    url = urls["default"]
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        for other in urls.values():
            with httpx.Client(base_url=other, headers=headers, timeout=REQUEST_TIMEOUT_S) as c:
                warm_up(c, requests)
        single = alone(client, requests, plan.alone)
        wait_running(client, ids.job)
        idle = baseline("before the load", url, client, ids.job, plan.baseline_s, clocks["default"])
        phases = [idle]
        runs: dict[str, LoadRun] = {}
        for name, where in urls.items():
            run = load_phase(name, where, client, plan, ids, requests, clocks[name])
            if run is None:
                return False
            after = baseline(
                f"after {name}", url, client, ids.job, plan.baseline_s, clocks["default"]
            )
            run.idle_before, run.idle_after, idle = idle, after, after
            runs[name] = run
            phases += [run.during, after]
    ok = True
    for name, run in runs.items():
        result = run.result
        print()
        print(
            f"load, {name}: {plan.requests:,} requests from {plan.clients} clients in "
            f"{result.wall_s:.1f} s: {plan.requests / result.wall_s:.1f} req/s; this client's "
            f"CPU {result.client_cpu_s:.1f} s"
        )
        print_table(result, single)
        server_errors, exceptions, unexpected = print_problems(result)
        ok = ok and server_errors == 0 and exceptions == 0 and unexpected == 0
        print_training(ids.job, run)
    print_health(phases)
    print_cores(phases)
    print_targets(runs)
    return ok


def idle_rate(run: LoadRun) -> float | None:
    """The mean epochs/s of the idle baselines around ``run``'s load."""
    rates = [p.rate.per_s for p in (run.idle_before, run.idle_after) if p and p.rate is not None]
    return sum(rates) / len(rates) if rates else None


def print_targets(runs: dict[str, LoadRun]) -> None:
    """Issue 11's figures for the mixed load, and the default configuration over the unbatched
    one in the same run."""
    run = runs["default"]
    rps = len(run.result.requests) / run.result.wall_s
    predict = [
        o.latency_ms
        for r, o in zip(run.result.requests, run.result.outcomes, strict=True)
        if (r.method, r.path, o.status) == ("GET", "/predict", 200)
    ]
    p99 = percentile(predict, 99)
    server_errors = sum(1 for o in run.result.outcomes if o.status is not None and o.status >= 500)
    idle = idle_rate(run)
    training = run.during.rate.per_s / idle if run.during.rate and idle else float("nan")
    checks = [
        (f"{rps:.0f} req/s >= {LOAD_RPS:g}", rps >= LOAD_RPS),
        (f"GET /predict p99 {p99:.0f} ms <= {LOAD_P99_MS:g} ms", p99 <= LOAD_P99_MS),
        (f"5xx: {server_errors} == 0", server_errors == 0),
        (
            f"training during the load {training:.2f}x idle >= {TRAINING_KEPT:g}x",
            training >= TRAINING_KEPT,
        ),
    ]
    print("targets (default configuration)")
    for text, ok in checks:
        print(f"  {text}: {'ok' if ok else 'MISSED'}")
    if "unbatched" in runs:
        other = runs["unbatched"].result
        print(
            f"  default / unbatched throughput: {rps / (len(other.requests) / other.wall_s):.2f}x"
        )


def start_models(
    client: httpx.Client, plan: Plan, start_worker: Callable[[], None] | None
) -> tuple[str, dict[str, Any]]:
    """Train the served model to completion, then queue the long training; (served id, 202)."""
    served = train_model(client, train_body(TRAIN_EPOCHS, "bench-load-served"), start_worker)
    return served, submit_fit(client, long_training_body(plan))


def cancel(client: httpx.Client, job_id: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        answer = client.delete(f"/jobs/{job_id}")
        print(f"training job cancelled: DELETE /jobs answered {answer.status_code}")


def run_own_stack(args: argparse.Namespace, plan: Plan) -> bool:
    env = {"ODECAST_API_KEYS": args.api_key} if args.api_key else {}
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    with own_stack(log_level=args.log_level, env=env) as stack:
        print_header(plan, stack.url, True)
        unbatched, unbatched_url = stack.start_api("api-unbatched", UNBATCHED_ENV)
        with httpx.Client(base_url=stack.url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
            served, accepted = start_models(client, plan, lambda: stack.start_worker(burst=False))
            try:
                ids = Ids(served, accepted["model_id"], accepted["job_id"])
                urls = {"unbatched": unbatched_url, "default": stack.url}
                clocks = {
                    "unbatched": stack_cpu_clock(stack, unbatched),
                    "default": stack_cpu_clock(stack, stack.api),
                }
                return measure(urls, headers, plan, ids, clocks)
            finally:
                cancel(client, accepted["job_id"])  # the worker then stops at once


def run_against_url(args: argparse.Namespace, plan: Plan) -> bool:
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    print_header(plan, args.url, False)
    wait_ready(args.url, None)
    made: list[str] = []
    with httpx.Client(base_url=args.url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        try:
            served = train_model(client, train_body(TRAIN_EPOCHS, "bench-load-served"), None)
            made.append(served)
            accepted = submit_fit(client, long_training_body(plan))
            made.append(accepted["model_id"])
            ids = Ids(served, accepted["model_id"], accepted["job_id"])
            return measure({"default": args.url}, headers, plan, ids, {"default": None})
        finally:
            for model_id in made:  # deleting the training model cancels its job
                with contextlib.suppress(httpx.HTTPError):
                    client.delete(f"/models/{model_id}")


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the stack


def main() -> int:
    args = parse_args()
    plan = make_plan(args)
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.perf_counter()
    ok = run_against_url(args, plan) if args.url is not None else run_own_stack(args, plan)
    print(f"elapsed {time.perf_counter() - started:.1f} s; {'ok' if ok else 'NOT OK'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
