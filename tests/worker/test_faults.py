"""Faults a training job meets: its solver gives up, its loss diverges, it runs past its timeout,
its whole worker dies (SIGKILL), Redis goes away and comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest
import redis
from fastapi.testclient import TestClient
from rq.timeouts import BaseDeathPenalty
from stack_helpers import FAST_TRAINING, SMALL_MODEL, checkpoint_epoch, ended_job, wait_for

from models.store import new_id, open_store
from service.app import create_app
from service.embedded_redis import EmbeddedRedis
from service.queueing import enqueue_training, fetch_job, request_cancel, training_queue
from worker.main import make_worker

WORKER = [sys.executable, "-m", "service.cli", "worker"]


def fit(client: TestClient, series: list[dict], **changes: dict) -> dict:
    body = {"series": series, "model": SMALL_MODEL, "training": FAST_TRAINING}
    for part, values in changes.items():
        body[part] = {**body[part], **values}
    answer = client.post("/fit", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_a_solver_that_gives_up_fails_the_job_with_a_reason(client, run_worker, series_maker):
    tight = {"max_steps": 10, "rtol": 1e-10, "atol": 1e-12}  # far more than 10 steps a solve
    accepted = fit(client, series_maker(), model=tight)
    run_worker()
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed"
    assert job["error"].startswith("TooManyStepsError") and "raise model.max_steps" in job["error"]
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "failed" and model["error"] == job["error"]


def test_a_diverging_training_fails_the_job_with_a_reason(
    client, run_worker, series_maker, settings
):
    accepted = fit(client, series_maker())
    # No request can ask for this (noise 1e-30 makes the likelihood overflow); the store can.
    store = open_store(settings.store)
    config = store.record(accepted["model_id"]).config
    config["model"].update(noise_std=1e-30, learn_noise=False)
    store.update_record(accepted["model_id"], config=config)
    run_worker()
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed"
    assert job["error"].startswith("TrainingDivergedError") and "learning rate" in job["error"]


def long_job_with_timeout(
    client: TestClient, series: list[dict], settings, redis_client, timeout_s: int
) -> tuple[str, str]:
    """The model and job ids of a job of 100,000 epochs queued with ``timeout_s`` (the fit's own
    job cancelled). The API refuses timeouts shorter than the training budget; a job enqueued by
    hand may not."""
    accepted = fit(client, series, training={"epochs": 100_000, "max_seconds": 600})
    request_cancel(redis_client, fetch_job(redis_client, accepted["job_id"]), settings)
    job_id = new_id("j")
    short = settings.model_copy(update={"job_timeout_s": timeout_s})
    enqueue_training(training_queue(redis_client, settings), accepted["model_id"], job_id, short)
    return accepted["model_id"], job_id


def test_a_job_past_its_timeout_fails_clearly(client, series_maker, settings, redis_client):
    model_id, job_id = long_job_with_timeout(client, series_maker(), settings, redis_client, 3)
    make_worker(settings, redis_client, fork=False).work(burst=True)
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "failed"
    assert job["error"] == "training ran past the job timeout (ODECAST_JOB_TIMEOUT_S)"
    assert client.get(f"/models/{model_id}").json()["status"] == "failed"


class LostAlarm(BaseDeathPenalty):
    """RQ's timeout alarm, lost (as when it lands in a garbage-collector callback)."""

    def setup_death_penalty(self) -> None:
        pass

    def cancel_death_penalty(self) -> None:
        pass


def test_a_job_past_its_timeout_fails_even_when_the_alarm_is_lost(
    client, series_maker, settings, redis_client
):
    _, job_id = long_job_with_timeout(client, series_maker(), settings, redis_client, 1)
    worker = make_worker(settings, redis_client, fork=False)
    worker.death_penalty_class = LostAlarm
    worker.work(burst=True)
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "failed"
    assert job["error"] == "training ran past the job timeout (ODECAST_JOB_TIMEOUT_S)"


@pytest.mark.slow
@pytest.mark.parametrize("store_backend", ["local", "s3"])
def test_a_job_whose_worker_is_killed_is_picked_up_and_resumes(
    client, series_maker, settings, monkeypatch, tmp_path, store_backend
):
    """Two workers in folders of their own, as on two hosts: with the S3 store they share nothing
    but Redis and the object store, and the second resumes from the first's checkpoint there."""
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    for host in hosts:
        host.mkdir()
    monkeypatch.setenv("ODECAST_WORKER_HEARTBEAT_S", "1")
    monkeypatch.setenv("ODECAST_WORKER_MAINTENANCE_S", "2")
    training = {"epochs": 60, "max_seconds": 300, "seed": 3}
    accepted = fit(client, series_maker(8, 20), training=training)
    first = subprocess.Popen(WORKER, env=os.environ.copy(), cwd=hosts[0])
    try:
        wait_for(
            lambda: (checkpoint_epoch(settings.store, accepted["model_id"]) or 0) >= 3,
            120,
            "epoch 3",
        )
        for process in [*psutil.Process(first.pid).children(recursive=True)]:
            process.send_signal(signal.SIGKILL)  # the work horse: no checkpoint, no report
        first.send_signal(signal.SIGKILL)  # and the worker: nobody is left to notice
        first.wait(10)
        lost_at = checkpoint_epoch(settings.store, accepted["model_id"]) or 0
        assert client.get(f"/jobs/{accepted['job_id']}").json()["status"] == "running"

        second = subprocess.Popen(WORKER, env=os.environ.copy(), cwd=hosts[1])
        try:
            job_id = accepted["job_id"]
            job = wait_for(lambda: ended_job(client, job_id), 240, "the job to run again and end")
        finally:
            second.terminate()
            second.wait(60)
    finally:
        first.kill()
    assert job["status"] == "succeeded", job
    assert job["resumed_from_epoch"] == lost_at >= 3  # at most one checkpoint interval lost
    assert job["progress"]["epoch"] == training["epochs"]
    assert client.get(f"/models/{accepted['model_id']}").json()["status"] == "ready"
    predict = {"model_id": accepted["model_id"], "series_id": "s0", "t": "3"}
    assert client.get("/predict", params=predict).status_code == 200
    written = [str(p) for host in hosts for p in host.rglob("*")]
    assert written == [] or store_backend == "local", written


@pytest.mark.slow
@pytest.mark.parametrize("store_backend", ["local", "s3"])
def test_redis_stopped_and_restarted(tmp_path, settings, series_maker, store_backend):
    server = EmbeddedRedis(tmp_path / "redis").start()
    port = server.port
    own = settings.model_copy(update={"redis_url": server.url})
    connection = redis.Redis.from_url(server.url)
    try:
        with TestClient(create_app(own)) as client:
            trained = fit(client, series_maker())
            make_worker(own, connection, fork=False).work(burst=True)
            queued = fit(client, series_maker(seed=5))  # no worker: stays queued
            predict = {"model_id": trained["model_id"], "series_id": "s0", "t": "3"}
            assert client.get("/predict", params=predict).status_code == 200

            server.stop()
            down = client.post("/fit", json={"series": series_maker()})
            assert down.status_code == 503 and down.headers["retry-after"]
            assert down.json()["error"]["code"] == "queue_unavailable"
            assert client.get(f"/jobs/{queued['job_id']}").status_code == 503
            assert client.get("/readyz").status_code == 503
            assert client.get("/predict", params=predict).status_code == 200  # from the store
            listed = {m["model_id"] for m in client.get("/models").json()["models"]}
            assert listed == {trained["model_id"], queued["model_id"]}
            assert "odecast_redis_up 0.0" in client.get("/metrics").text

            server = EmbeddedRedis(tmp_path / "redis", port=port).start()  # same AOF
            assert client.get("/readyz").status_code == 200
            assert client.get(f"/jobs/{queued['job_id']}").json()["status"] == "queued"
            assert client.get(f"/jobs/{trained['job_id']}").json()["status"] == "succeeded"
            make_worker(own, connection, fork=False).work(burst=True)
            assert client.get(f"/models/{queued['model_id']}").json()["status"] == "ready"
            assert client.get("/predict", params=predict).status_code == 200
    finally:
        connection.close()
        server.stop()


@pytest.mark.slow
def test_a_work_horse_never_outlives_its_worker(client, series_maker, settings) -> None:
    # RQ gives the horse its own process group; a worker killed alone must not leave it
    # training beside the rerun of its job.
    accepted = fit(client, series_maker(8, 20), training={"epochs": 5000, "max_seconds": 300})
    worker = subprocess.Popen(WORKER, env=os.environ.copy())
    try:
        wait_for(
            lambda: (checkpoint_epoch(settings.store, accepted["model_id"]) or 0) >= 2,
            120,
            "epoch 2",
        )
        (horse,) = psutil.Process(worker.pid).children()
        worker.send_signal(signal.SIGKILL)  # the worker only
        worker.wait(10)

        def gone() -> bool:
            try:
                return horse.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        wait_for(gone, 30, "the orphaned work horse to stop")
    finally:
        worker.kill()
    # It was told to stop (not killed): it checkpointed at its last epoch on the way out.
    assert (checkpoint_epoch(settings.store, accepted["model_id"]) or 0) >= 2
