"""The API on a store in S3-compatible object storage (a real SeaweedFS server): it serves,
answers 409 for a damaged model only, and 503 with a reason while the store is unreachable."""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient
from stack_helpers import FAST_TRAINING, SMALL_MODEL, error_of

from models.store import open_store
from models.store.s3 import S3Store
from service.embedded_redis import free_port
from service.settings import Settings

pytestmark = pytest.mark.parametrize("store_backend", ["s3"])


def copy_model(store: S3Store, source: str, target: str) -> None:
    """A second model with the same objects, as another fit would have left."""
    for name in store.models.child(source).names():
        data = store.models.child(source).read(name)
        assert data is not None
        if name == "record.json":
            data = json.dumps({**json.loads(data), "model_id": target}).encode()
        store.models.child(target).write(name, data)


def test_a_damaged_model_answers_409_and_the_others_keep_serving(
    client: TestClient, fitted: dict, settings: Settings
) -> None:
    store = open_store(settings.store)
    assert isinstance(store, S3Store)
    damaged = fitted["model_id"]
    copy_model(store, damaged, "healthy")
    weights = next(n for n in store.trained_dir(damaged).names() if n.startswith("model"))
    data = store.trained_dir(damaged).read(weights)
    assert data is not None
    store.trained_dir(damaged).write(weights, data[:-8] + b"garbage!")

    params = {"series_id": "s0", "t": ["1.0", "2.5"], "n_samples": "4"}
    for _ in range(2):  # nothing half-loaded is cached
        error = error_of(client.get("/predict", params={**params, "model_id": damaged}), 409)
        assert error["code"] == "model_unreadable" and damaged in error["message"]
        assert "s3://" not in error["message"]
        good = client.get("/predict", params={**params, "model_id": "healthy"})
        assert good.status_code == 200, good.text
    listed = {m["model_id"] for m in client.get("/models").json()["models"]}
    assert listed == {damaged, "healthy"}
    assert client.delete(f"/models/{damaged}").status_code == 204
    assert store.models.child(damaged).names() == []


def test_an_unreachable_store_answers_503_and_readyz_says_why(
    client: TestClient, fitted: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/readyz").json()["checks"]["store"] == "ok"
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody there
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "is the object store up" in ready.json()["checks"]["store"]
    listed = client.get("/models")
    error = error_of(listed, 503, "store_unavailable")
    assert "try again" in error["message"] and listed.headers["retry-after"]
    headers = {"Idempotency-Key": "retried-fit"}
    fit = client.post("/fit", json={"series": fitted["series"]}, headers=headers)
    error_of(fit, 503, "store_unavailable")
    # the store back, a retry with the same key fits (it was told of a model never written)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    again = client.post("/fit", json={"series": fitted["series"]}, headers=headers)
    assert again.status_code == 202, again.text
    assert client.get(f"/models/{again.json()['model_id']}").status_code == 200


def test_a_worker_that_cannot_reach_the_store_fails_the_job_saying_so(
    client: TestClient, run_worker, series_maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"series": series_maker(), "model": SMALL_MODEL, "training": FAST_TRAINING}
    accepted = client.post("/fit", json=body).json()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # the worker's view
    run_worker()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # the API's
    job = client.get(f"/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed"
    assert job["error"].startswith("StoreUnavailableError"), job["error"]
    assert "is the object store up" in job["error"]
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "failed" and model["error"] == job["error"]  # never queued for ever


def test_a_delete_cut_short_is_finished_by_its_retry(
    client: TestClient, fitted: dict, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object store failing after the record went: 503, and the retry (404: the model is
    gone) removes the data set and weights, which nothing else would ever have removed."""
    from models.store import StoreUnavailableError, s3_objects

    store = open_store(settings.store)
    assert isinstance(store, S3Store)
    model_id = fitted["model_id"]
    assert store.models.child(model_id).names()
    remove_all = s3_objects.S3Folder.remove_all

    def reset(self: s3_objects.S3Folder) -> None:
        raise StoreUnavailableError("connection reset during DeleteObjects")

    monkeypatch.setattr(s3_objects.S3Folder, "remove_all", reset)
    error_of(client.delete(f"/models/{model_id}"), 503, "store_unavailable")
    monkeypatch.setattr(s3_objects.S3Folder, "remove_all", remove_all)
    error_of(client.delete(f"/models/{model_id}"), 404, "not_found")
    assert store.models.child(model_id).names() == []
