"""Benchmark of the HTTP service: GET /predict under concurrency, POST /fit latency, /healthz.

Run from the repository root::

    .venv/bin/python bench/serving.py                  # starts its own stack, full run
    .venv/bin/python bench/serving.py --quick          # fewer requests
    .venv/bin/python bench/serving.py --torch-threads 2   # the API it starts with 2 torch threads
    .venv/bin/python bench/serving.py --url http://127.0.0.1:8000   # a server already running

Without ``--url`` it starts a stack of its own (``bench/stack.py``) in a temporary folder: an
embedded Redis (``EmbeddedRedis``), the API (``python -m service.cli api``) with ``ODECAST_STORE``
and ``ODECAST_REDIS_URL`` set, and a burst worker (``python -m service.cli worker --burst``) that
trains one model of the default architecture through ``POST /fit`` for a fixed number of epochs
(``--train-epochs``, a few seconds: this measures serving, not quality; a fixed count, so that
every run serves the same model) and exits once the queue is empty. Everything it started is
stopped at the end. With ``--url`` the server's own workers train the model (or give
``--model-id`` and ``--series-id``); the models this script created are deleted afterwards.

Two configurations in the same run, on the same store, Redis and model: the default (the
settings' defaults: dynamic batching, ``ODECAST_API_WORKERS`` processes) and the unbatched one
as before batching (``ODECAST_PREDICT_BATCH_SIZE=1``, one process), started beside it on its own
port. Case 1 runs against both, the rest against the default; the ratios compare the two, and
issue 11's serving targets are printed beside the figures (the exit code does not depend on them:
they hold on this 2-core machine, not on every machine).

Cases (one table at the end; latencies in milliseconds, client-side, per request):

1. ``GET /predict`` of a training series at 100 timestamps (default ``n_samples``, 80% interval),
   model cached (warmed first): 1 client (sequential: the single-request latency), then
   ``--clients`` concurrent clients (threads, one ``httpx.Client`` each). p50/p90/p99/max,
   requests per second and errors (non-200 answers and exceptions; must be 0). The figure that
   holds on a shared, noisy machine is the ratio of the two throughputs (and of the two p50s).
   ``cpu ms/req`` is the API process' CPU time (all threads, from /proc) per request, when this
   script started the API: it shows work wasted under contention (spinning, context switches).
   While the concurrent clients run, one more client asks ``GET /healthz`` every 0.1 s: how a
   liveness probe fares under that load. Then ``GET /healthz`` alone with as many clients: the
   ceiling of the HTTP stack (and of this client) on this machine.
2. ``POST /predict/batch`` of 100 items (the training series in turn) at the same 100 times,
   against the same 100 predictions as sequential ``GET /predict`` requests: medians of 3 rounds
   and their ratio.
3. ``POST /fit`` of 1,000 points (20 series x 50 points, 2-D, ~10% nulls), each after a
   ``GET /healthz``, the baseline of the same run, one client. No worker listens by then, so the
   jobs only wait in the queue; their models are deleted afterwards. The robust figure is fit p50
   / healthz p50; the target is a 202 "well under 100 ms" (checked here as p50 < 100 ms).

With 20 requests, p99 is close to the max. The exit code is 0 when no request failed and /fit met
its target, else 1.

The machine (CPUs, load, the API's torch threads) and the settings are printed first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
    make_series,
    own_stack,
    stop_process,
    train_body,
    tree_cpu_s,
    wait_ready,
)
from stack import train_model as train_served_model

FIT_TARGET_MS = 100.0
# Serving targets (issue 11), printed beside the run's figures.
SINGLE_P50_MS, MANY_RPS, MANY_GAIN, MANY_P99_MS, BATCH_RATIO = 10.0, 300.0, 6.0, 250.0, 0.2
BATCH_SERIES = 100
REQUEST_TIMEOUT_S = 120.0
PROBE_EVERY_S = 0.1
FIT_WARMUP = 2

# The /fit payload: 1,000 points.
FIT_SERIES, FIT_POINTS, FIT_NULL_FRACTION = 20, 50, 0.1


# ----------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Plan:
    clients: int
    per_client: int  # GET /predict requests per client (both the 1-client and the N-client run)
    warmup: int
    fit_requests: int
    n_times: int
    train_epochs: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--url", help="an API already running (default: start a stack)")
    parser.add_argument("--model-id", help="with --url: a trained model to predict from")
    parser.add_argument("--series-id", help="with --model-id: one of its training series")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--per-client", type=int, help="GET /predict requests per client")
    parser.add_argument("--fit-requests", type=int, help="POST /fit requests")
    parser.add_argument("--times", type=int, default=100, help="timestamps per prediction")
    parser.add_argument(
        "--train-epochs", type=int, default=30, help="epochs of the served model (30)"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="ODECAST_API_TORCH_THREADS of the API this script starts (default: the setting's, 1)",
    )
    parser.add_argument(
        "--log-level", default="info", help="ODECAST_LOG_LEVEL of the API it starts (info)"
    )
    return parser.parse_args()


def make_plan(args: argparse.Namespace) -> Plan:
    per_client = args.per_client or (5 if args.quick else 20)
    fit_requests = args.fit_requests or (8 if args.quick else 20)
    warmup = 3 if args.quick else 5
    return Plan(args.clients, per_client, warmup, fit_requests, args.times, args.train_epochs)


# ----------------------------------------------------------------------------------- payloads


def fit_body() -> dict[str, Any]:
    series = make_series(FIT_SERIES, FIT_POINTS, seed=SEED + 1, null_fraction=FIT_NULL_FRACTION)
    return {"series": series, "name": "bench-service-fit"}


def predict_params(model_id: str, series_id: str, n_times: int) -> dict[str, str]:
    times = np.linspace(0.0, 12.0, n_times)  # the series span [0, 10]: some extrapolation
    return {
        "model_id": model_id,
        "series_id": series_id,
        "times": ",".join(f"{t:.4f}" for t in times),
    }


def train_model(
    client: httpx.Client, plan: Plan, start_worker: Callable[[], None] | None
) -> tuple[str, str]:
    """POST /fit a small data set, let a worker train it, wait for the job; (model, series)."""
    body = train_body(plan.train_epochs, "bench-service-served")
    return train_served_model(client, body, start_worker), "s0"


# ----------------------------------------------------------------------------------- load


CpuClock = Callable[[], float]  # the API process' CPU seconds (user + system) so far


def process_cpu_clock(pid: int) -> CpuClock:
    """CPU seconds of process ``pid`` and its live descendants (uvicorn's worker processes)."""
    return lambda: tree_cpu_s(pid)


@dataclass
class Result:
    case: str
    clients: int
    latencies_ms: list[float]
    errors: int
    wall_s: float
    first_error: str = ""
    cpu_s: float | None = None  # the API's CPU time over the run, when it can be read

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_s is None or not self.latencies_ms:
            return None
        return self.cpu_s / len(self.latencies_ms) * 1e3


@dataclass
class Tally:
    """Latencies and errors of one run, filled from several threads."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_sent: float = float("inf")  # perf_counter() when the earliest request went out
    last_answered: float = float("-inf")

    def add(self, latency_ms: float, error: str | None) -> None:
        answered = time.perf_counter()
        with self.lock:
            self.first_sent = min(self.first_sent, answered - latency_ms / 1e3)
            self.last_answered = max(self.last_answered, answered)
            self.latencies_ms.append(latency_ms)
            if error is not None:
                self.errors += 1
                self.first_error = self.first_error or error

    def result(self, case: str, clients: int, wall_s: float, cpu_s: float | None = None) -> Result:
        return Result(
            case, clients, self.latencies_ms, self.errors, wall_s, self.first_error, cpu_s
        )


def timed(send: Callable[[], httpx.Response], expected: int) -> tuple[float, str | None]:
    """One request: its latency in ms and an error (None when the status is ``expected``)."""
    started = time.perf_counter()
    try:
        response = send()
        error = None
        if response.status_code != expected:
            error = f"{response.status_code}: {response.text[:300]}"
    except httpx.HTTPError as err:
        error = f"{type(err).__name__}: {err}"
    return (time.perf_counter() - started) * 1e3, error


@dataclass(frozen=True)
class Load:
    """``clients`` clients each sending ``per_client`` GETs of ``path`` at once."""

    case: str
    path: str
    params: dict[str, str]
    clients: int
    per_client: int


def run_concurrent(
    url: str, load: Load, cpu: CpuClock | None, probe: bool = False
) -> tuple[Result, Result | None]:
    """Threads with one httpx.Client each; they start together at a barrier, and the wall time
    runs from the first request sent to the last answer. With ``probe``, one more client asks
    GET /healthz every PROBE_EVERY_S meanwhile: how a liveness check fares under this load."""
    tally, probe_tally = Tally(), Tally()
    # A timeout: a client that cannot connect breaks the barrier instead of hanging the run.
    barrier = threading.Barrier(load.clients + 1 + probe, timeout=READY_TIMEOUT_S)
    done = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
            with contextlib.suppress(httpx.HTTPError):  # connect before the clock starts
                client.get("/healthz")
            barrier.wait()
            for _ in range(load.per_client):
                tally.add(*timed(lambda: client.get(load.path, params=load.params), 200))

    def probe_loop() -> None:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
            with contextlib.suppress(httpx.HTTPError):
                client.get("/healthz")
            barrier.wait()
            while not done.wait(PROBE_EVERY_S):
                probe_tally.add(*timed(lambda: client.get("/healthz"), 200))

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(load.clients)]
    prober = threading.Thread(target=probe_loop, daemon=True)
    for thread in threads + ([prober] if probe else []):
        thread.start()
    cpu_before = cpu() if cpu is not None else None  # the clients wait at the barrier: idle
    barrier.wait()
    for thread in threads:
        thread.join()
    cpu_s = cpu() - cpu_before if cpu is not None and cpu_before is not None else None
    # From the clients' own clocks: the main thread may get the GIL back only after the
    # clients are done (it did, against a fast /healthz), so its own clock can miss the run.
    wall = tally.last_answered - tally.first_sent if tally.latencies_ms else 0.0
    done.set()
    probed = None
    if probe:
        prober.join()
        probed = probe_tally.result("  GET /healthz meanwhile", 1, wall)
    return tally.result(load.case, load.clients, wall, cpu_s), probed


def warm_predict(client: httpx.Client, params: dict[str, str], count: int) -> list[float]:
    """A few sequential predictions (the first loads the model into the cache); their ms."""
    latencies = []
    for _ in range(count):
        latency, error = timed(lambda: client.get("/predict", params=params), 200)
        if error is not None:
            raise RuntimeError(f"GET /predict failed while warming up: {error}")
        latencies.append(latency)
    return latencies


def run_fit_and_health(client: httpx.Client, plan: Plan) -> tuple[Result, Result, list[str]]:
    """POST /fit (1,000 points) interleaved with GET /healthz; the ids of the models made."""
    body = json.dumps(fit_body()).encode()
    headers = {"content-type": "application/json"}
    fit, health = Tally(), Tally()
    model_ids: list[str] = []

    def post_fit() -> httpx.Response:
        response = client.post("/fit", content=body, headers=headers)
        if response.status_code == 202:
            model_ids.append(response.json()["model_id"])
        return response

    started = time.perf_counter()
    for i in range(FIT_WARMUP + plan.fit_requests):
        health_ms, health_error = timed(lambda: client.get("/healthz"), 200)
        fit_ms, fit_error = timed(post_fit, 202)
        if i >= FIT_WARMUP:
            health.add(health_ms, health_error)
            fit.add(fit_ms, fit_error)
    wall = time.perf_counter() - started
    return (
        fit.result(f"POST /fit ({FIT_SERIES * FIT_POINTS:,} points)", 1, wall),
        health.result("GET /healthz", 1, wall),
        model_ids,
    )


# ----------------------------------------------------------------------------------- report


def api_torch_threads(env: dict[str, str] | None) -> str:
    """The API's torch threads and prediction concurrency, as its settings give them."""
    if env is None:
        return "unknown (a server not started here)"
    code = (
        "import torch; from service.settings import Settings; s = Settings(); "
        "print(s.api_torch_threads, s.predict_concurrency, torch.__version__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    threads, concurrency, version = done.stdout.split()
    return f"{threads} (torch {version}); predictions at once: {concurrency}"


def print_machine(
    plan: Plan, args: argparse.Namespace, url: str, env: dict[str, str] | None
) -> None:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("machine")
    print(f"  CPUs: {os.cpu_count()} (usable here: {usable}); load average {load}")
    print(f"  python {sys.version.split()[0]}; API torch threads: {api_torch_threads(env)}")
    if env is None:
        print(f"  API: {url} (--url; its CPU time is not measured)")
    else:
        print(f"  API: {url}, started here; ODECAST_LOG_LEVEL {args.log_level}")
    print("settings")
    fit_jobs = "no worker listens: the jobs wait" if env else "the server's workers may take them"
    print(
        f"  GET /predict: {plan.n_times} times (grid over [0, 12], series observed in [0, 10]), "
        f"default n_samples and level; {plan.warmup} warm-up requests, then {plan.per_client} "
        f"requests per client with 1 and {plan.clients} clients"
    )
    print(
        f"  POST /fit: {FIT_SERIES} series x {FIT_POINTS} points x {DIMS}-D "
        f"(~{FIT_NULL_FRACTION:.0%} nulls), {plan.fit_requests} requests after {FIT_WARMUP} "
        f"warm-up, each after a GET /healthz; {fit_jobs}; their models deleted after"
    )
    print(
        f"  served model: default architecture, {plan.train_epochs} epochs on "
        f"{TRAIN_SERIES} x {TRAIN_POINTS} points",
        flush=True,
    )


def print_table(results: list[Result]) -> None:
    """One row per run; ``cpu ms/req`` is the API process' CPU time per request."""
    header = (
        f"{'case':<28} {'clients':>7} {'requests':>8} {'errors':>6} {'p50 ms':>8} "
        f"{'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>7} {'cpu ms/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        worst = max(r.latencies_ms, default=float("nan"))
        cpu = r.cpu_ms_per_request
        print(
            f"{r.case:<28} {r.clients:>7} {len(r.latencies_ms):>8} {r.errors:>6} "
            f"{r.p50:>8.1f} {r.percentile(90):>8.1f} {r.percentile(99):>8.1f} {worst:>8.1f} "
            f"{r.rps:>7.1f} {'-' if cpu is None else f'{cpu:.1f}':>10}"
        )
    for r in results:
        if r.first_error:
            print(f"first error of {r.case.strip()} ({r.clients} clients): {r.first_error}")


def print_ratios(runs: dict[str, tuple[Result, Result]], fit: Result, health: Result) -> None:
    """The figures that hold on a noisy machine: ratios of runs made side by side."""
    print("ratios")
    (b_single, b_many), (single, many) = runs["unbatched"], runs["default"]
    print(
        f"  GET /predict, {many.clients} clients, default / unbatched: throughput "
        f"{many.rps / b_many.rps:.2f}x, p99 {many.percentile(99) / b_many.percentile(99):.2f}x; "
        f"1 client p50 {single.p50 / b_single.p50:.2f}x"
    )
    if b_many.cpu_ms_per_request and many.cpu_ms_per_request:
        print(
            f"  GET /predict API CPU per request, {many.clients} clients, default / unbatched: "
            f"{many.cpu_ms_per_request / b_many.cpu_ms_per_request:.2f}x"
        )
    print(f"  POST /fit p50 / GET /healthz p50: {fit.p50 / health.p50:.1f}x")


@dataclass(frozen=True)
class BatchCase:
    """``POST /predict/batch`` of ``series`` items against as many single GET /predict."""

    batch_ms: float
    singles_ms: float
    series: int
    times: int

    @property
    def ratio(self) -> float:
        return self.batch_ms / self.singles_ms


def run_batch_case(client: httpx.Client, model: tuple[str, str], plan: Plan) -> BatchCase:
    """Medians of 3 rounds: one batch of ``BATCH_SERIES`` items (the training series in turn),
    and the same predictions as sequential single requests."""
    model_id, _ = model
    times = [float(t) for t in np.linspace(0.0, 12.0, plan.n_times)]
    ids = [f"s{i % TRAIN_SERIES}" for i in range(BATCH_SERIES)]
    body = {"model_id": model_id, "items": [{"series_id": i, "times": times} for i in ids]}
    batch_ms, singles_ms = [], []
    for _ in range(3):
        latency, error = timed(lambda: client.post("/predict/batch", json=body), 200)
        if error is not None:
            raise RuntimeError(f"POST /predict/batch failed: {error}")
        batch_ms.append(latency)
        started = time.perf_counter()
        for series_id in ids:
            params = predict_params(model_id, series_id, plan.n_times)
            latency, error = timed(lambda p=params: client.get("/predict", params=p), 200)
            if error is not None:
                raise RuntimeError(f"GET /predict failed: {error}")
        singles_ms.append((time.perf_counter() - started) * 1e3)
    return BatchCase(
        float(np.median(batch_ms)), float(np.median(singles_ms)), BATCH_SERIES, plan.n_times
    )


def verdict(
    results: list[Result], fit: Result, runs: dict[str, tuple[Result, Result]], batch: BatchCase
) -> bool:
    """Every run without errors and /fit's p50 under its target decide the exit code; the
    serving targets are printed beside (they hold on this 2-core machine, not everywhere)."""
    errors = sum(r.errors for r in results)
    fit_ok = fit.p50 < FIT_TARGET_MS
    (_, b_many), (single, many) = runs["unbatched"], runs["default"]
    checks = [
        (
            f"1 client GET /predict p50 {single.p50:.1f} ms <= {SINGLE_P50_MS:g} ms",
            single.p50 <= SINGLE_P50_MS,
        ),
        (f"{many.clients} clients {many.rps:.0f} req/s >= {MANY_RPS:g}", many.rps >= MANY_RPS),
        (
            f"{many.clients} clients {many.rps / b_many.rps:.1f}x unbatched >= {MANY_GAIN:g}x",
            many.rps / b_many.rps >= MANY_GAIN,
        ),
        (
            f"{many.clients} clients p99 {many.percentile(99):.0f} ms <= {MANY_P99_MS:g} ms",
            many.percentile(99) <= MANY_P99_MS,
        ),
        (
            f"POST /predict/batch {batch.series} x {batch.times}: {batch.ratio:.3f}x the singles "
            f"<= {BATCH_RATIO:g}x",
            batch.ratio <= BATCH_RATIO,
        ),
    ]
    for text, ok in checks:
        print(f"  target: {text}: {'ok' if ok else 'MISSED'}")
    print(
        f"checks: POST /fit p50 {fit.p50:.1f} ms < {FIT_TARGET_MS:g} ms: "
        f"{'ok' if fit_ok else 'MISSED'}; errors in all runs: {errors} "
        f"({'ok' if errors == 0 else 'NOT OK'})"
    )
    return fit_ok and errors == 0


# ----------------------------------------------------------------------------------- main


def measure(
    url: str,
    plan: Plan,
    model: tuple[str, str],
    cpu: CpuClock | None,
    unbatched: tuple[str, CpuClock | None] | None = None,
) -> bool:
    """The cases against ``url`` (the default configuration) and, when given, the same GET
    /predict cases against the ``unbatched`` API (one process, batching off) of the same run."""
    params = predict_params(*model, plan.n_times)
    case = f"GET /predict ({plan.n_times} times)"
    predict = Load(case, "/predict", params, 1, plan.per_client)
    health = Load("GET /healthz", "/healthz", {}, plan.clients, plan.per_client)
    configs = {"default": (url, cpu)}
    if unbatched is not None:
        configs = {"unbatched": unbatched, **configs}
    runs: dict[str, tuple[Result, Result]] = {}
    results: list[Result] = []
    for name, (where, clock) in configs.items():
        with httpx.Client(base_url=where, timeout=REQUEST_TIMEOUT_S) as client:
            warm = warm_predict(client, params, plan.warmup)
        print(f"{name}: warm-up GET /predict ms: {', '.join(f'{x:.1f}' for x in warm)}", flush=True)
        named = replace(predict, case=f"{name}: {case}")
        single, _ = run_concurrent(where, named, clock)
        many, probed = run_concurrent(
            where, replace(named, clients=plan.clients), clock, probe=True
        )
        assert probed is not None
        runs[name] = (single, many)
        results += [single, many, probed]
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        batch = run_batch_case(client, model, plan)
        health_many, _ = run_concurrent(url, health, cpu)
        model_ids: list[str] = []
        try:
            fit, health_single, model_ids = run_fit_and_health(client, plan)
        finally:
            delete_models(client, model_ids)
    results += [health_many, health_single, fit]
    print()
    print_table(results)
    print(
        f"POST /predict/batch {batch.series} series x {batch.times} times: "
        f"{batch.batch_ms:.0f} ms; the same as {batch.series} sequential GET /predict: "
        f"{batch.singles_ms:.0f} ms; "
        f"ratio {batch.ratio:.3f}"
    )
    if "unbatched" not in runs:
        runs["unbatched"] = runs["default"]  # against --url: no second configuration
    print_ratios(runs, fit, health_single)
    return verdict(results, fit, runs, batch)


def delete_models(client: httpx.Client, model_ids: list[str]) -> None:
    for model_id in model_ids:
        with contextlib.suppress(httpx.HTTPError):
            client.delete(f"/models/{model_id}")


def run_against_url(args: argparse.Namespace, plan: Plan) -> bool:
    print_machine(plan, args, args.url, None)
    wait_ready(args.url, None)
    if args.model_id is not None:
        return measure(args.url, plan, (args.model_id, args.series_id or "s0"), None)
    with httpx.Client(base_url=args.url, timeout=REQUEST_TIMEOUT_S) as client:
        model = train_model(client, plan, None)
        try:
            return measure(args.url, plan, model, None)
        finally:
            delete_models(client, [model[0]])


def run_own_stack(args: argparse.Namespace, plan: Plan) -> bool:
    with own_stack(log_level=args.log_level, torch_threads=args.torch_threads) as stack:
        print_machine(plan, args, stack.url, stack.env)

        def start_worker() -> None:
            stack.start_worker(burst=True)

        with httpx.Client(base_url=stack.url, timeout=REQUEST_TIMEOUT_S) as client:
            model = train_model(client, plan, start_worker)
        stop_process(stack.worker)  # no worker listens during the /fit case
        assert stack.api is not None
        proc, url = stack.start_api("api-unbatched", UNBATCHED_ENV)
        unbatched = (url, process_cpu_clock(proc.pid))
        return measure(stack.url, plan, model, process_cpu_clock(stack.api.pid), unbatched)


def main() -> int:
    args = parse_args()
    plan = make_plan(args)
    started = time.perf_counter()
    ok = run_against_url(args, plan) if args.url is not None else run_own_stack(args, plan)
    print(f"elapsed {time.perf_counter() - started:.1f} s; {'ok' if ok else 'NOT OK'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
