"""A fit's provisional stage: answers from the cheap candidates while the latent ODE trains, then
the final model, switched atomically; a cancelled or failed training leaves the provisional
stage serving. Real Redis, real RQ workers, HTTP through the app."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import redis
from stack_helpers import SMALL_MODEL, wait_for

from worker.main import make_worker

TRAINING = {"epochs": 4, "batch_size": 8, "max_seconds": 30, "seed": 0}
WORKER = "from service.settings import get_settings; from worker.main import run_worker; " \
    "run_worker(get_settings())"  # fmt: skip


@pytest.fixture
def run_light_worker(settings, redis_client):
    """A light worker, in this process, until the provisional queue is empty."""

    def run() -> None:
        connection = redis.Redis.from_url(settings.redis_url)
        make_worker(settings, connection, fork=False, light=True).work(burst=True)

    return run


def fit(client, series_maker, training=TRAINING) -> dict:
    body = {"series": series_maker(6, 30), "model": SMALL_MODEL, "training": training}
    answer = client.post("/fit", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


def predict(client, model_id: str) -> dict:
    params = {"model_id": model_id, "series_id": "s0", "t": [3.3, 12.0], "level": 80}
    answer = client.get("/predict", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def flat(body: dict) -> np.ndarray:
    """An answer's mean and 80% bounds as one array."""
    interval = body["intervals"]["80"]
    return np.array([body["mean"], interval["lower"], interval["upper"]], dtype=float)


def test_a_fit_answers_from_its_provisional_stage_before_training_then_from_the_final(
    client, series_maker, run_light_worker, run_worker
) -> None:
    accepted = fit(client, series_maker)
    model_id, job_id = accepted["model_id"], accepted["job_id"]
    params = {"model_id": model_id, "series_id": "s0", "t": 3.3}
    assert client.get("/predict", params=params).status_code == 409  # nothing stored yet

    run_light_worker()
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "queued" and job["stage"] == "provisional", job
    model = client.get(f"/models/{model_id}").json()
    assert model["status"] == "queued" and model["stage"] == "provisional", model
    assert model["skill"]["held_out"] == "backtest"
    assert model["skill"]["interpolation_method"] == "linear_interpolation"
    assert model["skill"]["forecast_recipe"]["dims"][0]["candidate"]
    assert client.get(f"/models/{model_id}/backtest").status_code == 200
    early = predict(client, model_id)
    assert early["stage"] == "provisional" and early["kind"] == ["interpolation", "extrapolation"]
    batch = {"model_id": model_id, "items": [{"series_id": "s1", "times": [2.0]}]}
    answered = client.post("/predict/batch", json=batch).json()
    assert answered["predictions"][0]["stage"] == "provisional"

    run_worker()
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["stage"] == "final", job
    model = client.get(f"/models/{model_id}").json()
    assert model["status"] == "ready" and model["stage"] == "final", model
    assert model["checkpoint_version"] == 2  # the provisional stage was version 1
    late = predict(client, model_id)
    assert late["stage"] == "final" and late["mean"] != early["mean"]


def test_a_training_cancelled_before_it_started_leaves_the_provisional_stage_serving(
    client, series_maker, run_light_worker, run_worker
) -> None:
    accepted = fit(client, series_maker)
    run_light_worker()
    assert client.delete(f"/jobs/{accepted['job_id']}").status_code == 200
    run_worker()
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "cancelled" and model["stage"] == "provisional", model
    assert predict(client, accepted["model_id"])["stage"] == "provisional"


def test_a_failed_training_leaves_the_provisional_stage_serving(
    client, series_maker, run_light_worker, run_worker, monkeypatch
) -> None:
    from service.settings import get_settings

    accepted = fit(client, series_maker)
    run_light_worker()
    # a worker pinned to a GPU that is not there fails the training job, saying so
    monkeypatch.setenv("ODECAST_WORKER_DEVICE", "cuda:63")
    get_settings.cache_clear()
    run_worker()
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed" and job["stage"] == "provisional", job
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "failed" and model["stage"] == "provisional", model
    assert "cuda:63" in model["error"]
    assert predict(client, accepted["model_id"])["stage"] == "provisional"


def test_a_provisional_fit_of_a_deleted_model_leaves_nothing(
    client, series_maker, run_light_worker, settings
) -> None:
    from pathlib import Path

    accepted = fit(client, series_maker)
    assert client.delete(f"/models/{accepted['model_id']}").status_code == 204
    run_light_worker()
    assert not (Path(settings.store) / "models" / accepted["model_id"]).exists()


@pytest.mark.slow
def test_the_switch_to_final_is_atomic_under_concurrent_reads(client, series_maker) -> None:
    """Readers hammer /predict while a real worker trains: every answer is whole, from one
    stage, the same as every other answer of that stage, and no reader that starts after a
    final answer came back gets a provisional one."""
    accepted = fit(client, series_maker, {**TRAINING, "epochs": 30})
    model_id, job_id = accepted["model_id"], accepted["job_id"]
    answers: list[tuple[float, float, dict]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            started = time.monotonic()
            params = {"model_id": model_id, "series_id": "s0", "t": [3.3, 12.0]}
            answer = client.get("/predict", params=params)
            if answer.status_code == 409:  # nothing servable yet
                continue
            assert answer.status_code == 200, answer.text
            answers.append((started, time.monotonic(), answer.json()))

    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=os.environ.copy())
    try:
        with ThreadPoolExecutor(4) as pool:
            readers = [pool.submit(read) for _ in range(4)]
            try:
                wait_for(
                    lambda: client.get(f"/jobs/{job_id}").json()["status"] == "succeeded",
                    180,
                    "the training to end",
                )
                time.sleep(1.0)  # reads after the switch
            finally:
                done.set()
            for reader in readers:
                reader.result()
    finally:
        worker.terminate()
        worker.wait(60)
    by_stage: dict[str, list[tuple[float, float, dict]]] = {"provisional": [], "final": []}
    for started, ended, body in answers:
        by_stage[body["stage"]].append((started, ended, body))
    assert by_stage["provisional"] and by_stage["final"], {k: len(v) for k, v in by_stage.items()}
    for stage, seen in by_stage.items():
        # the same answer every time: a solve shared by concurrent readers agrees within its
        # tolerance (service.batching), while the two stages' answers differ far more
        first = flat(seen[0][2])
        assert all(np.allclose(flat(b), first, rtol=1e-4, atol=1e-6) for *_, b in seen), stage
    assert not np.allclose(flat(by_stage["provisional"][0][2]), flat(by_stage["final"][0][2]))
    first_final_back = min(ended for _, ended, _ in by_stage["final"])
    assert all(started < first_final_back for started, _, _ in by_stage["provisional"])
