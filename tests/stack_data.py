"""Small models, short trainings and series as clients send them, for the service's tests.

(A module of its own, not conftest: several conftest modules exist, so ``from conftest import``
would pick whichever was imported first.)
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import numpy as np

T = TypeVar("T")

FAST_TRAINING = {"epochs": 4, "batch_size": 8, "max_seconds": 30, "seed": 0}
SMALL_MODEL = {"latent_dim": 4, "hidden_dim": 16, "encoder_dim": 8}


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
