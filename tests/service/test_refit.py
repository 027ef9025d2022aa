"""Refits: new observations or series for a trained model train its next version from its
weights; the model keeps its id, the previous version serves until the new one is final and
stays readable after. Real Redis, real RQ workers, HTTP through the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import psutil
import pytest
from stack_helpers import SMALL_MODEL, error_of, locs, wait_for

TRAINING = {"epochs": 4, "batch_size": 8, "max_seconds": 30, "seed": 0}
WORKER = "from service.settings import get_settings; from worker.main import run_worker; " \
    "run_worker(get_settings())"  # fmt: skip


@pytest.fixture
def trained(client, series_maker, run_worker) -> dict:
    series = series_maker(6, 30)
    body = {"series": series, "model": SMALL_MODEL, "training": TRAINING}
    accepted = client.post("/fit", json=body).json()
    run_worker()
    assert client.get(f"/models/{accepted['model_id']}").json()["stage"] == "final"
    return {**accepted, "series": series}


def later_points(series: dict, count: int, shift: float = 0.0) -> dict:
    """``count`` new observations of ``series`` after its last time."""
    last = max(series["times"])
    times = [last + 0.37 * (k + 1) + shift for k in range(count)]
    return {"id": series["id"], "times": times, "values": [[float(np.sin(t))] for t in times]}


def predict(client, model_id: str, series_id: str = "s0", **extra) -> dict:
    params = {"model_id": model_id, "series_id": series_id, "t": [1.0, 30.0], **extra}
    answer = client.get("/predict", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_refit_trains_the_next_version_which_serves_once_final(
    client, trained, run_worker
) -> None:
    model_id = trained["model_id"]
    before = predict(client, model_id)
    new_series = {"id": "s9", "times": [0.5, 1.5, 2.5, 3.5], "values": [[0.1], [0.3], [0.2], [0.4]]}
    body = {"series": [later_points(trained["series"][0], 5), new_series]}
    answer = client.post(f"/models/{model_id}/refit", json=body)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["model_id"] == model_id and accepted["version"] == 2
    assert answer.headers["location"] == accepted["status_url"]

    model = client.get(f"/models/{model_id}").json()
    assert model["version"] == 1 and model["pending_version"] == 2, model
    assert [(v["version"], v["status"]) for v in model["versions"]] == [(1, "ready"), (2, "queued")]
    assert predict(client, model_id)["version"] == 1  # the previous version serves meanwhile
    job = client.get(accepted["status_url"]).json()
    assert job["version"] == 2 and job["status"] == "queued"

    run_worker()
    model = client.get(f"/models/{model_id}").json()
    assert (model["version"], model["parent_version"], model["points_added"]) == (2, 1, 9)
    assert (
        model["status"] == "ready"
        and model["stage"] == "final"
        and model["pending_version"] is None
    )
    assert model["n_points"] == 6 * 30 + 9 and "s9" in model["series_ids"]
    assert [(v["version"], v["parent_version"]) for v in model["versions"]] == [(1, None), (2, 1)]
    after = predict(client, model_id)
    assert after["version"] == 2 and after["stage"] == "final"
    assert predict(client, model_id, series_id="s9")["version"] == 2
    # the previous version stays readable, on its own data
    assert predict(client, model_id, version=1)["mean"] == before["mean"]
    gone = client.get(
        "/predict", params={"model_id": model_id, "series_id": "s9", "t": 1.0, "version": 1}
    )
    assert gone.status_code == 404
    missing = client.get(
        "/predict", params={"model_id": model_id, "series_id": "s0", "t": 1.0, "version": 7}
    )
    assert missing.status_code == 404 and "no version 7" in missing.json()["error"]["message"]
    listed = client.get("/models").json()["models"]
    assert [m["model_id"] for m in listed] == [model_id]  # one model, two versions


def test_a_refit_starts_from_the_parents_weights(client, trained, run_worker, settings) -> None:
    """With a learning rate too small to move them, the refit's weights are its parent's."""
    from models.latent.resume import load_trained_model
    from models.store import open_store

    model_id = trained["model_id"]
    body = {
        "series": [later_points(trained["series"][1], 3)],
        "training": {"epochs": 1, "lr": 1e-12},
    }
    assert client.post(f"/models/{model_id}/refit", json=body).status_code == 202
    run_worker()
    store = open_store(settings.store)
    parent = load_trained_model(store.trained_dir(model_id, 1)).model.state_dict()
    child = load_trained_model(store.trained_dir(model_id, 2)).model.state_dict()
    for name, tensor in parent.items():
        assert np.allclose(tensor.numpy(), child[name].numpy(), atol=1e-6), name


def test_a_refit_of_another_dimension_or_time_kind_is_a_422_naming_the_field(
    client, trained
) -> None:
    url = f"/models/{trained['model_id']}/refit"
    two_dims = {"id": "s0", "times": [100.0, 101.0], "values": [[1.0, 2.0], [3.0, 4.0]]}
    error = error_of(client.post(url, json={"series": [two_dims]}), 422)
    assert locs(error) == ["body.series[0].values"], error
    dated = {"id": "s0", "times": ["2026-01-01T00:00:00Z"], "values": [1.0]}
    error = error_of(client.post(url, json={"series": [dated]}), 422)
    assert locs(error) == ["body.series[0].times"], error
    repeated = {"id": "s1", "times": [trained["series"][1]["times"][3]], "values": [1.0]}
    error = error_of(
        client.post(url, json={"series": [later_points(trained["series"][0], 1), repeated]}), 422
    )
    assert locs(error) == ["body.series[1].times"] and "already observed" in error["message"]
    error = error_of(
        client.post(
            url, json={"series": [later_points(trained["series"][0], 1)], "training": {"lr": 5}}
        ),
        422,
    )
    assert client.get(f"/models/{trained['model_id']}").json()["versions"] == []  # nothing kept


def test_refits_of_a_model_not_trained_or_already_refitting_are_409(
    client, trained, series_maker
) -> None:
    fresh = client.post("/fit", json={"series": series_maker(), "training": TRAINING}).json()
    points = {"series": [later_points(trained["series"][0], 2)]}
    error = error_of(client.post(f"/models/{fresh['model_id']}/refit", json=points), 409)
    assert error["code"] == "model_not_ready"
    url = f"/models/{trained['model_id']}/refit"
    assert client.post(url, json=points).status_code == 202
    more = {"series": [later_points(trained["series"][0], 2, shift=10.0)]}
    assert error_of(client.post(url, json=more), 409)["code"] == "refit_in_progress"
    assert error_of(client.post("/models/m-nope/refit", json=points), 404)


def test_a_cancelled_refit_leaves_the_previous_version_serving(client, trained, run_worker) -> None:
    model_id = trained["model_id"]
    url = f"/models/{model_id}/refit"
    accepted = client.post(url, json={"series": [later_points(trained["series"][0], 3)]}).json()
    assert client.delete(f"/jobs/{accepted['job_id']}").status_code == 200
    run_worker()
    model = client.get(f"/models/{model_id}").json()
    assert model["version"] == 1 and model["status"] == "ready" and model["pending_version"] is None
    assert [(v["version"], v["status"]) for v in model["versions"]] == [
        (1, "ready"),
        (2, "cancelled"),
    ]
    assert predict(client, model_id)["version"] == 1
    # and another refit may follow
    assert (
        client.post(url, json={"series": [later_points(trained["series"][0], 2, 5.0)]}).json()[
            "version"
        ]
        == 3
    )


@pytest.mark.slow
def test_a_worker_killed_during_a_refit_leaves_the_previous_version_serving(
    client, trained
) -> None:
    model_id = trained["model_id"]
    body = {
        "series": [later_points(trained["series"][0], 5)],
        "training": {"epochs": 5000, "max_seconds": 600},
    }
    accepted = client.post(f"/models/{model_id}/refit", json=body).json()
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=os.environ.copy())
    try:

        def training() -> bool:
            job = client.get(accepted["status_url"]).json()
            return job["status"] == "running" and (job["progress"]["epoch"] or 0) >= 2

        wait_for(training, 120, "the refit to train")
        for process in psutil.Process(worker.pid).children(recursive=True):
            process.send_signal(signal.SIGKILL)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        worker.kill()
    model = client.get(f"/models/{model_id}").json()
    assert model["version"] == 1 and model["stage"] == "final" and model["pending_version"] == 2
    answer = predict(client, model_id)
    assert answer["version"] == 1 and answer["stage"] == "final"


def test_a_model_saved_before_stages_and_optimizer_states_can_be_refitted(
    client, trained, run_worker, settings
) -> None:
    """A record without a stage (ready) and weights saved without the optimizer's state, as
    earlier releases wrote them: the refit starts a fresh optimizer from those weights."""
    from models.checkpoint import checkpoint_manifest
    from models.latent.resume import load_trained_model, save_trained_model
    from models.store import open_store

    model_id = trained["model_id"]
    store = open_store(settings.store)
    folder = store.trained_dir(model_id)
    save_trained_model(folder, load_trained_model(folder))
    manifest = checkpoint_manifest(folder)
    assert manifest is not None and manifest["optimizer"] is None
    store.update_record(
        model_id, stage=None, checkpoint_version=manifest["version"], checkpoint_manifest=manifest
    )
    body = {"series": [later_points(trained["series"][2], 4)]}
    assert client.post(f"/models/{model_id}/refit", json=body).status_code == 202
    run_worker()
    model = client.get(f"/models/{model_id}").json()
    assert (model["version"], model["stage"], model["status"]) == (2, "final", "ready"), model


def test_deleting_a_model_cancels_its_pending_refit(client, trained, run_worker, settings) -> None:
    from pathlib import Path

    model_id = trained["model_id"]
    body = {"series": [later_points(trained["series"][0], 3)]}
    accepted = client.post(f"/models/{model_id}/refit", json=body).json()
    assert client.delete(f"/models/{model_id}").status_code == 204
    assert client.get(accepted["status_url"]).json()["status"] == "cancelled"
    run_worker()
    assert not (Path(settings.store) / "models" / model_id).exists()


def test_a_refit_on_a_worker_of_another_store_is_shown_failed_and_no_longer_pending(
    client, trained, settings, monkeypatch, tmp_path
) -> None:
    """A worker that does not share the API's store fails the refit's job without telling the
    store: the model showed the refit pending for ever, and every later refit got a 409."""
    import redis

    from service.settings import get_settings
    from worker.main import make_worker

    model_id = trained["model_id"]
    body = {"series": [later_points(trained["series"][0], 3)]}
    assert client.post(f"/models/{model_id}/refit", json=body).status_code == 202
    monkeypatch.setenv("ODECAST_STORE", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    make_worker(get_settings(), redis.Redis.from_url(settings.redis_url), fork=False).work(
        burst=True
    )
    model = client.get(f"/models/{model_id}").json()
    assert model["pending_version"] is None and model["version"] == 1, model
    assert model["versions"][1]["status"] == "failed"
    assert "not in this worker's store" in model["versions"][1]["error"]
    more = {"series": [later_points(trained["series"][0], 2, shift=5.0)]}
    assert client.post(f"/models/{model_id}/refit", json=more).json()["version"] == 3
