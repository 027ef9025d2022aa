"""Training jobs in real RQ workers: graceful shutdown, resume from a checkpoint, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from stack_helpers import SMALL_MODEL, checkpoint_epoch, ended_job, wait_for

WORKER = "from service.settings import get_settings; from worker.main import run_worker; " \
    "run_worker(get_settings())"  # fmt: skip
TRAINING = {"epochs": 40, "batch_size": 8, "max_seconds": 120, "seed": 1, "val_fraction": 0.3}


@pytest.mark.slow
def test_sigterm_checkpoints_and_the_job_resumes_exactly(
    client, run_worker, series_maker, settings, redis_client
) -> None:
    body = {"series": series_maker(8, 20), "model": SMALL_MODEL, "training": TRAINING}
    interrupted = client.post("/fit", json=body).json()
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=os.environ.copy())
    try:

        def far_enough() -> bool:
            progress = client.get(f"/jobs/{interrupted['job_id']}").json()["progress"]
            epoch = checkpoint_epoch(settings.store, interrupted["model_id"])
            return (progress["epoch"] or 0) >= 5 and epoch is not None

        wait_for(far_enough, 120, "five epochs and a checkpoint")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        worker.kill()
    stopped_at = checkpoint_epoch(settings.store, interrupted["model_id"])
    job = client.get(f"/jobs/{interrupted['job_id']}").json()
    assert job["status"] == "queued", job  # back on the queue, not failed
    assert 5 <= stopped_at < TRAINING["epochs"]
    assert client.get(f"/models/{interrupted['model_id']}").json()["status"] == "queued"
    stored = Job.fetch(interrupted["job_id"], connection=redis_client, serializer=JSONSerializer)
    assert stored.retries_left == settings.job_retries  # a shutdown spends no retry

    run_worker()
    job = client.get(f"/jobs/{interrupted['job_id']}").json()
    assert job["status"] == "succeeded", job
    assert job["resumed_from_epoch"] == stopped_at
    assert job["progress"]["epoch"] == TRAINING["epochs"]

    # The same fit without interruption ends with exactly the same model.
    straight = client.post("/fit", json=body).json()
    run_worker()
    resumed = client.get(f"/models/{interrupted['model_id']}").json()
    uninterrupted = client.get(f"/models/{straight['model_id']}").json()
    assert resumed["status"] == uninterrupted["status"] == "ready"
    resumed["metrics"].pop("train_seconds"), uninterrupted["metrics"].pop("train_seconds")
    assert resumed["metrics"] == uninterrupted["metrics"]  # to the last bit
    assert not (Path(settings.store) / "models" / interrupted["model_id"] / "training").exists()


def test_a_job_whose_data_is_unreadable_fails_with_a_reason_and_no_retry(
    client, run_worker, series_maker, settings
) -> None:
    body = {"series": series_maker(), "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    (Path(settings.store) / "models" / accepted["model_id"] / "dataset.json").write_text(
        "{not json"
    )
    run_worker()
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed"
    assert "dataset.json" in job["error"] and "not valid JSON" in job["error"]
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "failed" and "dataset.json" in model["error"]


def test_a_worker_pinned_to_a_missing_gpu_fails_the_job_saying_so(
    client, run_worker, series_maker, monkeypatch
) -> None:
    import torch

    from service.settings import get_settings

    missing = f"cuda:{torch.cuda.device_count() if torch.cuda.is_available() else 0}"
    monkeypatch.setenv("ODECAST_WORKER_DEVICE", missing)
    get_settings.cache_clear()
    body = {"series": series_maker(), "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    run_worker()
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed" and missing in job["error"], job
    assert "--device" in job["error"]
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "failed" and missing in model["error"]


def test_the_device_a_model_trained_on_is_in_its_record(fitted, client) -> None:
    import torch

    model = client.get(f"/models/{fitted['model_id']}").json()
    # The worker's default device is auto: CUDA wherever torch sees a GPU.
    assert model["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_record_keeps_the_served_checkpoints_manifest(fitted, store_location) -> None:
    """The API loads a model with the record's copy of its meta.json, so the copy must be it."""
    from models.checkpoint import checkpoint_manifest
    from models.store import open_store

    store = open_store(store_location)
    record = store.record(fitted["model_id"])
    manifest = checkpoint_manifest(store.trained_dir(fitted["model_id"]))
    assert manifest is not None and record.checkpoint_manifest == manifest
    assert record.checkpoint_version == manifest["version"] >= 1


def test_training_devices() -> None:
    import torch

    from worker.jobs import DeviceUnavailableError, training_device

    assert training_device("cpu") == "cpu"
    assert training_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceUnavailableError, match="cuda:63"):
        training_device("cuda:63")


def test_a_worker_on_another_store_fails_the_job_and_the_model_says_why(
    client, series_maker, settings, monkeypatch, tmp_path
) -> None:
    import redis

    from service.settings import get_settings
    from worker.main import make_worker

    body = {"series": series_maker(), "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    # A worker whose store is another folder: it shares Redis with the API, not the store.
    monkeypatch.setenv("ODECAST_STORE", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    connection = redis.Redis.from_url(settings.redis_url)
    make_worker(get_settings(), connection, fork=False).work(burst=True)
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed", job
    assert "not in this worker's store" in job["error"] and "ODECAST_STORE" in job["error"]
    model = client.get(f"/models/{accepted['model_id']}").json()  # not queued for ever
    assert model["status"] == "failed" and model["error"] == job["error"]
    assert client.get("/models").json()["models"][0]["status"] == "failed"


def test_a_model_deleted_while_queued_is_not_trained(client, run_worker, series_maker) -> None:
    body = {"series": series_maker(), "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    assert client.delete(f"/models/{accepted['model_id']}").status_code == 204
    run_worker()
    assert client.get(f"/jobs/{accepted['job_id']}").json()["status"] == "cancelled"
    assert client.get("/models").json()["models"] == []


def test_the_worker_parent_never_imports_torch() -> None:
    # Jobs run in forked work horses, which may use CUDA only if the parent never initialised
    # it; the parent does not even import torch.
    code = "import sys, worker.main, worker.jobs; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.slow
def test_a_job_whose_work_horse_is_killed_runs_again_from_its_checkpoint(
    client, series_maker, settings
) -> None:
    body = {"series": series_maker(8, 20), "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=os.environ.copy())
    try:
        wait_for(
            lambda: (checkpoint_epoch(settings.store, accepted["model_id"]) or 0) >= 3,
            120,
            "a checkpoint at epoch 3",
        )
        (horse,) = psutil.Process(worker.pid).children()  # the work horse running the job
        horse.kill()  # SIGKILL: no chance to checkpoint or report
        job = wait_for(lambda: ended_job(client, accepted["job_id"]), 180, "the job to end")
    finally:
        worker.terminate()
        worker.wait(60)
    assert job["status"] == "succeeded", job
    assert job["resumed_from_epoch"] >= 3
    assert client.get(f"/models/{accepted['model_id']}").json()["status"] == "ready"


@pytest.mark.slow
def test_cancelling_a_running_job_stops_it_at_an_epoch_and_keeps_its_checkpoint(
    client, series_maker, settings
) -> None:
    training = {**TRAINING, "epochs": 2000}
    body = {"series": series_maker(8, 20), "model": SMALL_MODEL, "training": training}
    accepted = client.post("/fit", json=body).json()
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=os.environ.copy())
    try:

        def running_with_progress() -> bool:
            job = client.get(f"/jobs/{accepted['job_id']}").json()
            return job["status"] == "running" and (job["progress"]["epoch"] or 0) >= 2

        wait_for(running_with_progress, 120, "two epochs")
        answer = client.delete(f"/jobs/{accepted['job_id']}")
        assert answer.status_code == 202 and answer.json()["status"] == "running"

        def ended() -> dict | None:
            job = client.get(f"/jobs/{accepted['job_id']}").json()
            return job if job["status"] not in ("queued", "running") else None

        job = wait_for(ended, 60, "the job to stop")
    finally:
        worker.terminate()
        worker.wait(60)
    assert job["status"] == "cancelled", job
    assert job["progress"]["epoch"] < training["epochs"]
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "cancelled"
    assert checkpoint_epoch(settings.store, accepted["model_id"]) == job["progress"]["epoch"]
    # The best weights so far still answer.
    params = {"model_id": accepted["model_id"], "series_id": "s0", "t": "3"}
    assert client.get("/predict", params=params).status_code == 200


def test_a_data_set_too_small_to_hold_anything_out_trains_to_a_ready_model(
    client, run_worker
) -> None:
    """One series of four points: nothing is held out, so its validation errors are not
    measured (they were NaN, and writing them failed the finished job)."""
    series = [{"id": "a", "times": [0.0, 1.0, 2.0, 3.0], "values": [0.0, 4.0, 2.0, 1.0]}]
    body = {"series": series, "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    run_worker()
    assert client.get(f"/jobs/{accepted['job_id']}").json()["status"] == "succeeded"
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "ready" and model["error"] is None
    assert "val_interp_mse" not in model["metrics"] and model["metrics"]["epochs_run"] > 0
    params = {"model_id": accepted["model_id"], "series_id": "a", "t": [1.5, 5.0]}
    assert client.get("/predict", params=params).status_code == 200


def test_a_model_deleted_as_its_job_saves_it_ends_the_job_cancelled_and_leaves_nothing(
    settings, redis_client, run_worker, series_maker, store_location, monkeypatch
) -> None:
    """DELETE /models landing after the last epoch, before the trained model is written: the
    write recreated the folder, the record update then failed the job, and (without a retry
    left to clean up) the files stayed where nothing removes them."""
    from fastapi.testclient import TestClient

    from models.latent import resume
    from service.app import create_app

    body = {"series": series_maker(), "model": SMALL_MODEL, "training": {**TRAINING, "epochs": 2}}
    with TestClient(create_app(settings.model_copy(update={"job_retries": 0}))) as client:
        accepted = client.post("/fit", json=body).json()
        save = resume.save_trained_model

        def deleted_first(directory, trained, optimizer=None) -> None:
            assert client.delete(f"/models/{accepted['model_id']}").status_code == 204
            save(directory, trained, optimizer)

        monkeypatch.setattr(resume, "save_trained_model", deleted_first)
        run_worker()
        job = client.get(f"/jobs/{accepted['job_id']}").json()
        assert job["status"] == "cancelled", job
        assert client.get(f"/models/{accepted['model_id']}").status_code == 404
    assert not (Path(store_location) / "models" / accepted["model_id"]).exists()


def test_a_model_deleted_by_an_api_without_redis_ends_its_running_job_cancelled(
    client, settings, run_worker, series_maker, store_location, monkeypatch
) -> None:
    """The API could not reach Redis to ask the job to stop, so the worker found the folder
    gone and no cancel asked: it failed the job with "not in this worker's store", though the
    job had read its data from that very store."""
    from fastapi.testclient import TestClient

    from models.latent import resume
    from service.app import create_app

    body = {"series": series_maker(), "model": SMALL_MODEL, "training": {**TRAINING, "epochs": 50}}
    accepted = client.post("/fit", json=body).json()
    blind = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    save = resume.save_training_state

    def deleted_first(*args, **kwargs) -> None:
        if (Path(store_location) / "models" / accepted["model_id"] / "record.json").exists():
            with TestClient(create_app(blind)) as without_redis:
                answer = without_redis.delete(f"/models/{accepted['model_id']}")
                assert answer.status_code == 204
        save(*args, **kwargs)

    monkeypatch.setattr(resume, "save_training_state", deleted_first)
    run_worker()
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "cancelled", job
    assert not (Path(store_location) / "models" / accepted["model_id"]).exists()
