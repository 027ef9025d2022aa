"""Small models, short trainings and series as clients send them, for the service's tests.

(A module of its own, not conftest: several conftest modules exist, so ``from conftest import``
would pick whichever was imported first.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
import redis

from models.checkpoint_files import files_at
from models.store import open_store

T = TypeVar("T")

FAST_TRAINING = {"epochs": 4, "batch_size": 8, "max_seconds": 30, "seed": 0}
SMALL_MODEL = {"latent_dim": 4, "hidden_dim": 16, "encoder_dim": 8}


def waiting_fits(queue: str, connection: redis.Redis) -> int:
    """How many fits wait to be worked on: training jobs waiting for their provisional fit
    (deferred) or for a worker (queued); every fit has one."""
    from rq import Queue

    training = Queue(queue, connection=connection)
    return training.count + training.deferred_job_registry.count


def make_series(count: int = 6, points: int = 20, *, dims: int = 1, seed: int = 0) -> list[dict]:
    """Noisy sines at random times, as clients send them (1-D values when dims == 1)."""
    rng = np.random.default_rng(seed)
    series = []
    for i in range(count):
        times = np.sort(rng.uniform(0.0, 10.0, points))
        phase = rng.uniform(0, 2 * np.pi)
        values = np.stack([np.sin(times + phase + d) for d in range(dims)], axis=1)
        raw = values[:, 0].tolist() if dims == 1 else values.tolist()
        series.append({"id": f"s{i}", "times": times.tolist(), "values": raw})
    return series


def wait_for(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``predicate`` until it returns something truthy; return that, or fail saying what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_healthy(port: int, process: subprocess.Popen, timeout: float) -> None:
    """Wait until the API on ``port`` answers /healthz, failing early if ``process`` exits."""

    def healthy() -> bool:
        assert process.poll() is None, "the service exited early"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout, f"/healthz on port {port}")


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``ODECAST_*`` variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODECAST_")}
    return env | settings


@contextmanager
def serving(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """``odecast <command>`` (``up`` or ``api`` and their options, with ``--port port``) in a
    child process, once it answers /healthz; Ctrl-C'd on leaving (killed after 90 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", *command, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_healthy(port, process, timeout=90)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()


def train_once(redis_url: str, root: Path, bodies: dict[str, dict]) -> dict[str, str]:
    """Fit every body (name -> POST /fit body) on a store at ``root`` and train them with an
    in-process worker, for a module fixture to copy from; return name -> model_id. The Redis
    database is emptied before and after."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import get_settings
    from worker.main import make_worker

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODECAST_STORE", str(root))
        patch.setenv("ODECAST_REDIS_URL", redis_url)
        patch.setenv("ODECAST_PROGRESS_EVERY_S", "0")
        get_settings.cache_clear()
        settings = get_settings()
        connection = redis.Redis.from_url(redis_url)
        connection.flushdb()
        try:
            with TestClient(create_app(settings)) as client:
                model_ids = {}
                for name, body in bodies.items():
                    answer = client.post("/fit", json=body)
                    assert answer.status_code == 202, answer.text
                    model_ids[name] = answer.json()["model_id"]
                make_worker(settings, connection, fork=False).work(burst=True)
                for model_id in model_ids.values():
                    assert client.get(f"/models/{model_id}").json()["status"] == "ready"
        finally:
            connection.flushdb()
            connection.close()
            get_settings.cache_clear()
    return model_ids


def error_of(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The ``error`` object of ``response``, after checking its status and the one shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], list), error
    assert all(isinstance(d, dict) for d in error["details"]), error
    if code is not None:
        assert error["code"] == code, error
    return error


def locs(error: dict[str, Any]) -> list[str]:
    return [d.get("loc") for d in error["details"]]


def model_folders(store: Path) -> list[str]:
    """Everything under the store's models folder (a rejected request must leave nothing)."""
    folder = Path(store) / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def checkpoint_epoch(store: str | Path, model_id: str) -> int | None:
    """The epoch a model's training checkpoint will resume at, or None if it has none (in a
    store of either backend)."""
    raw = files_at(open_store(store).training_dir(model_id)).read_meta()
    try:
        return None if raw is None else int(json.loads(raw)["meta"]["position"]["epoch"])
    except ValueError:
        return None


def ended_job(client: Any, job_id: str) -> dict | None:
    """``GET /jobs/{job_id}`` if the job succeeded or failed, else None (for ``wait_for``)."""
    job = client.get(f"/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None
