"""The stack that the service benchmarks start and stop: shared by ``bench/serving.py`` and
``bench/load.py`` (not a script).

``own_stack()`` starts, in a temporary folder, an embedded Redis (``EmbeddedRedis``) and the API
(``python -m service.cli api``) with ``ODECAST_STORE`` and ``ODECAST_REDIS_URL`` set, yields once
the API is ready, and stops everything it started on the way out: each part's process group
(SIGTERM, then SIGKILL after 10 s), then any work horse that outlived its worker (RQ puts a horse
in a process group of its own). ``Stack.start_worker()`` adds an RQ worker (``python -m
service.cli worker``, a forking worker; ``burst`` exits once the queue is empty).
``train_model()`` trains a model through ``POST /fit`` and polls ``GET /jobs/{job_id}`` until it
ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
# The scripts' folder comes first on sys.path, and bench/serving.py would shadow the ``service``
# package: put the repository root before it.
if sys.path[:1] != [str(ROOT)]:
    sys.path.insert(0, str(ROOT))

from service.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

READY_TIMEOUT_S = 60.0
TRAIN_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 10.0
SEED = 0
# The configuration before dynamic batching: one API process, every prediction alone.
UNBATCHED_ENV = {"ODECAST_PREDICT_BATCH_SIZE": "1", "ODECAST_API_WORKERS": "1"}

# The served model: the default architecture, trained for a few seconds on a small data set.
TRAIN_SERIES, TRAIN_POINTS, DIMS = 8, 40, 2


# ----------------------------------------------------------------------------------- payloads


def make_series(count: int, points: int, *, seed: int, null_fraction: float = 0.0) -> list[dict]:
    """2-D noisy sines at random (unique) times in [0, 10]; some values null, never a whole row."""
    rng = np.random.default_rng(seed)
    series = []
    for i in range(count):
        times = np.sort(rng.choice(100_000, size=points, replace=False)) / 10_000.0
        phase = rng.uniform(0, 2 * np.pi)
        values: list[list[float | None]] = [
            [float(np.sin(t + phase + d) + 0.05 * rng.normal()) for d in range(DIMS)] for t in times
        ]
        for row in values:
            if rng.uniform() < null_fraction:
                row[int(rng.integers(DIMS))] = None
        series.append({"id": f"s{i}", "times": times.tolist(), "values": values})
    return series


def train_body(epochs: int, name: str) -> dict[str, Any]:
    """The served model's ``POST /fit`` body: TRAIN_SERIES x TRAIN_POINTS, ``epochs`` epochs."""
    # A fixed number of epochs (not seconds): the same model, so the same cost, in every run.
    training = {"epochs": epochs, "max_seconds": TRAIN_TIMEOUT_S, "seed": SEED}
    series = make_series(TRAIN_SERIES, TRAIN_POINTS, seed=SEED)
    return {"series": series, "training": training, "name": name}


# ----------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """What ``own_stack`` started (all stopped by ``stop``)."""

    folder: Path
    env: dict[str, str]
    url: str = ""
    redis: EmbeddedRedis | None = None
    api: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    light_worker: subprocess.Popen[bytes] | None = None
    extra_apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed with what it forks
            )

    def start_api(self, name: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
        """One more API on a free port, on the same store and Redis, with ``env`` on top of the
        stack's (a configuration to compare); stopped with the stack. Returns once it is ready."""
        port = free_port()
        saved, self.env = self.env, {**self.env, **env}
        try:
            proc = self.spawn(
                name, [sys.executable, "-m", "service.cli", "api", "--port", str(port)]
            )
        finally:
            self.env = saved
        self.extra_apis.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        return proc, url

    def start_worker(self, *, burst: bool, light: bool = False) -> None:
        """One RQ worker (``odecast worker``): it forks a work horse per job. ``light``: one
        more, for the provisional fits alone (``odecast worker --light``)."""
        argv = [sys.executable, "-m", "service.cli", "worker", *(["--burst"] if burst else [])]
        if light:
            self.light_worker = self.spawn("light-worker", [*argv, "--light"])
        else:
            self.worker = self.spawn("worker", argv)

    def stop(self) -> None:
        # RQ's work horse leads a process group of its own (os.setpgrp): killing the worker's
        # group misses it. A worker stopped in time waits for its horse; kill what outlived it.
        workers = [w for w in (self.worker, self.light_worker) if w is not None]
        horses = [horse for w in workers for horse in descendants(w.pid)]
        for proc in (*workers, self.api, *self.extra_apis):
            stop_process(proc)
        kill_survivors(horses)
        if self.redis is not None:
            self.redis.stop()

    def log_tails(self, lines: int = 20) -> str:
        parts = []
        for log in self.logs:
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not stopped in time."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], utime
    [11], stime [12], starttime [19]); None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(root: int) -> list[tuple[int, str]]:
    """``root``'s descendants now, as (pid, start time), from /proc (Linux; [] elsewhere)."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (fields := proc_stat(int(entry))) is not None:
                parents[int(entry)], starts[int(entry)] = int(fields[1]), fields[19]
    found: list[tuple[int, str]] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += [(pid, starts[pid]) for pid in children]
        frontier += children
    return found


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and its living descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [root, *(pid for pid, _ in descendants(root))]:
        fields = proc_stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def kill_survivors(processes: list[tuple[int, str]]) -> None:
    """SIGKILL those of ``processes`` (from ``descendants``) still running: the same pid with the
    same start time, so that a reused pid is left alone."""
    for pid, started in processes:
        fields = proc_stat(pid)
        if fields is not None and fields[19] == started and fields[0] != "Z":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def stack_env(
    store: Path,
    redis_url: str,
    log_level: str,
    torch_threads: int | None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ODECAST_STORE=str(store),
        ODECAST_REDIS_URL=redis_url,
        ODECAST_LOG_LEVEL=log_level,
        ODECAST_PROGRESS_EVERY_S="0.5",
        PYTHONUNBUFFERED="1",
    )
    if torch_threads is not None:
        env.update(ODECAST_API_TORCH_THREADS=str(torch_threads))
    env.update(extra or {})
    return env


@contextlib.contextmanager
def own_stack(
    *, log_level: str = "info", torch_threads: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """Redis, then the API; yields once the API is ready; stops everything on the way out.

    ``torch_threads`` sets ``ODECAST_API_TORCH_THREADS``; ``env``, more variables for every part.
    On a failure, the tails of the parts' logs go to stderr."""
    with tempfile.TemporaryDirectory(prefix="odecast-bench-") as tmp:
        folder = Path(tmp)
        stack = Stack(folder, {})
        try:

            def make_env(store: Path, url: str) -> dict[str, str]:
                return stack_env(store, url, log_level, torch_threads, env)

            start_redis(stack, make_env)
            port = free_port()
            cli = [sys.executable, "-m", "service.cli"]
            stack.api = stack.spawn("api", [*cli, "api", "--port", str(port)])
            stack.url = f"http://127.0.0.1:{port}"
            wait_ready(stack.url, stack.api)
            yield stack
        except Exception:
            print(stack.log_tails(), file=sys.stderr)
            raise
        finally:
            stack.stop()


def start_redis(stack: Stack, make_env: Callable[[Path, str], dict[str, str]]) -> None:
    """An embedded Redis with its output in the stack's folder; returns once it answers."""
    server = EmbeddedRedis(stack.folder / "redis", port=free_port())
    server.data_dir.mkdir(parents=True)
    stack.redis = server
    stack.env = make_env(stack.folder / "store", server.url)
    server.process = stack.spawn("redis", server.command())  # server.stop() stops it
    client = redis.Redis.from_url(server.url, socket_timeout=1)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        with contextlib.suppress(redis.ConnectionError):
            client.ping()
            return
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer on port {server.port}")
        time.sleep(0.05)


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None) -> None:
    """Until ``GET /readyz`` answers 200 (it needs no API key)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(base_url=url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the API exited with code {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/readyz").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"the API at {url} was not ready within {READY_TIMEOUT_S:g} s")


# ----------------------------------------------------------------------------------- training


def submit_fit(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /fit``; its 202 answer (``job_id``, ``model_id``, ``status_url``)."""
    answer = client.post("/fit", json=body)
    if answer.status_code != 202:
        raise RuntimeError(f"POST /fit answered {answer.status_code}: {answer.text[:500]}")
    return dict(answer.json())


def train_model(
    client: httpx.Client, body: dict[str, Any], start_worker: Callable[[], None] | None
) -> str:
    """POST /fit ``body``, let a worker train it (``start_worker`` starts one, once the job is
    queued), wait for the job; the model's id."""
    accepted = submit_fit(client, body)
    if start_worker is not None:
        start_worker()
    wait_job(client, accepted["status_url"])
    return str(accepted["model_id"])


def wait_job(client: httpx.Client, status_url: str) -> None:
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get(status_url).json()
        if job["status"] == "succeeded":
            return
        if job["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"training job {job['status']}: {job.get('error')}")
        time.sleep(0.2)
    raise RuntimeError(f"training did not finish within {TRAIN_TIMEOUT_S:g} s")
