"""The whole stack, as a client uses it: the FastAPI app, a real Redis and real RQ workers.

POST /fit -> the job runs -> GET /jobs shows progress and success -> GET /models lists the
model -> GET and POST /predict answer at unseen times, inside and outside the observed range,
with intervals -> /predict.png is a PNG -> DELETE removes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rq.job import JobStatus
from stack_helpers import FAST_TRAINING, SMALL_MODEL

from service.queueing import fetch_job, request_cancel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_fit_then_job_then_registry(client, fitted) -> None:
    job = client.get(f"/jobs/{fitted['job_id']}").json()
    assert job["status"] == "succeeded"
    assert job["model_id"] == fitted["model_id"]
    assert job["progress"]["epoch"] == job["progress"]["epochs"] == FAST_TRAINING["epochs"]
    assert job["progress"]["loss"] is not None and job["progress"]["eta_s"] == 0
    assert job["created_at"] <= job["started_at"] <= job["ended_at"]

    listed = client.get("/models").json()["models"]
    assert [m["model_id"] for m in listed] == [fitted["model_id"]]
    model = client.get(f"/models/{fitted['model_id']}").json()
    assert model["status"] == "ready"
    assert model["job_id"] == fitted["job_id"]
    assert model["config"]["model"]["latent_dim"] == SMALL_MODEL["latent_dim"]
    assert model["config"]["model"]["solver"] == "dopri5"  # a default, filled in
    assert model["dims"] == 1 and model["time_kind"] == "numeric"
    assert model["n_series"] == len(fitted["series"])
    assert model["series_ids"] == [s["id"] for s in fitted["series"]]
    assert model["checkpoint_version"] >= 1
    assert model["time_scale"] > 0
    assert {"val_interp_mse", "val_extrap_mse"} <= set(model["metrics"])
    skill = model["skill"]  # whole series held out: a family of short series
    assert skill["held_out"] == "series" and skill["window"] is None
    assert set(skill["interpolation"]["baselines"]) == {"linear_interpolation"}
    assert {"last_value", "drift", "linear_trend"} <= set(skill["extrapolation"]["baselines"])
    assert set(skill["extrapolation"]["coverage"]) == {"80", "90"}


def test_the_forecast_recipe_and_its_backtest_are_shown(client, fitted) -> None:
    model_id = fitted["model_id"]
    recipe = client.get(f"/models/{model_id}").json()["skill"]["forecast_recipe"]
    assert recipe["version"] == 5 and len(recipe["dims"]) == 1
    choice = recipe["dims"][0]
    assert choice["candidate"] in {n.split("@")[0] for n in choice["ratios"]} | {"last_value"}
    assert choice["reason"] and isinstance(choice["model_serves"], bool)
    sizes = choice["quantiles"]  # the sizes 50, 80, 90 and 95% of the backtest errors stay within
    assert len(sizes) == 4 and sizes[0] > 0 and sizes == sorted(sizes)
    answer = client.get(f"/models/{model_id}/backtest")
    assert answer.status_code == 200, answer.text
    (dim,) = answer.json()["dims"]
    assert dim["model_serves"] == choice["model_serves"] and dim["horizon"] > 0
    assert dim["origins"], dim  # every series pooled its origins
    for origin in dim["origins"]:
        assert origin["series"] in {s["id"] for s in fitted["series"]}
        assert origin["points"] > 0
        # the served candidate beside the naive methods it is not
        assert "served" in origin["mse"] and len(origin["mse"]) >= 2, origin
    assert sum(stretch["points"] for stretch in dim["by_lead"]) == sum(
        origin["points"] for origin in dim["origins"]
    )
    unknown = client.get("/models/m-nothing/backtest")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_get_predict_inside_and_outside_the_observed_range(client, fitted) -> None:
    series = fitted["series"][1]
    first, last = series["times"][0], series["times"][-1]
    inside = (first + last) / 2 + 0.0123  # not an observed time
    asked = [last + 3.0, inside, first - 1.0, inside]  # unsorted, with a duplicate
    answer = client.get(
        "/predict",
        params={
            "model_id": fitted["model_id"],
            "series_id": series["id"],
            "t": [str(t) for t in asked],
            "level": [50, 90],
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["times"] == pytest.approx(asked)
    assert body["kind"] == ["extrapolation", "interpolation", "extrapolation", "interpolation"]
    mean = np.array(body["mean"])
    assert mean.shape == (4, 1) and np.isfinite(mean).all()
    assert mean[1] == pytest.approx(mean[3])  # the same time answered twice, identically
    for level in ("50", "90"):
        lower = np.array(body["intervals"][level]["lower"])
        upper = np.array(body["intervals"][level]["upper"])
        assert (lower < upper).all()
    narrow, wide = body["intervals"]["50"], body["intervals"]["90"]
    assert (np.array(wide["lower"]) <= np.array(narrow["lower"])).all()
    assert (np.array(wide["upper"]) >= np.array(narrow["upper"])).all()


def test_get_predict_on_a_grid_and_with_quantiles(client, fitted) -> None:
    params = {"model_id": fitted["model_id"], "series_id": "s0", "start": "0", "stop": "20"}
    body = client.get("/predict", params={**params, "num": 5, "quantiles": [0.1, 0.5]}).json()
    assert body["times"] == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert set(body["quantiles"]) == {"0.1", "0.5"} and body["intervals"] == {}
    assert (np.array(body["quantiles"]["0.1"]) <= np.array(body["quantiles"]["0.5"])).all()
    listed = {"model_id": fitted["model_id"], "series_id": "s0", "times": "0,5,10,15,20"}
    by_list = client.get("/predict", params=listed).json()
    assert list(by_list["intervals"]) == ["80"]  # the default interval
    assert by_list["times"] == body["times"]
    assert by_list["mean"] == body["mean"]  # same seed, same samples


def test_post_predict_for_an_unseen_series(client, fitted, series_maker) -> None:
    new = series_maker(1, 15, seed=99)[0]
    new["times"], new["values"] = new["times"][::-1], new["values"][::-1]  # order is free
    answer = client.post(
        "/predict",
        json={"model_id": fitted["model_id"], "series": new, "times": [11.0, 2.5], "level": [95]},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["series_id"] == new["id"]
    assert body["kind"] == ["extrapolation", "interpolation"]
    assert np.array(body["intervals"]["95"]["lower"]).shape == (2, 1)


def test_predict_png_is_a_png(client, fitted) -> None:
    params = {"model_id": fitted["model_id"], "series_id": "s2", "start": "-2", "stop": "14"}
    answer = client.get("/predict.png", params={**params, "num": 50, "level": [50, 90]})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(PNG_SIGNATURE)


def test_delete_model_removes_it_everywhere(client, fitted, settings) -> None:
    model_id = fitted["model_id"]
    assert (Path(settings.store) / "models" / model_id).is_dir()
    assert client.delete(f"/models/{model_id}").status_code == 204
    assert client.get(f"/models/{model_id}").status_code == 404
    assert client.get("/models").json()["models"] == []
    params = {"model_id": model_id, "series_id": "s0", "t": "1"}
    assert client.get("/predict", params=params).status_code == 404
    assert not (Path(settings.store) / "models" / model_id).exists()
    assert client.delete(f"/models/{model_id}").status_code == 404


def test_iso_8601_times_end_to_end(client, run_worker, series_maker) -> None:
    base = np.datetime64("2026-03-01T00:00:00")
    series = series_maker(5, 16, dims=2, seed=3)
    for s in series:  # times in hours from base, sent with different offsets
        s["times"] = [
            str(base + np.timedelta64(int(t * 3600), "s")) + ("Z" if i % 2 else "+00:00")
            for i, t in enumerate(s["times"])
        ]
    body = {"series": series, "model": SMALL_MODEL, "training": FAST_TRAINING}
    accepted = client.post("/fit", json=body).json()
    run_worker()
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "ready" and model["time_kind"] == "datetime" and model["dims"] == 2

    asked = ["2026-03-01T14:00:00+02:00", "2026-03-01T05:30:00Z"]  # 12:00 and 05:30 UTC
    answer = client.get(
        "/predict", params={"model_id": accepted["model_id"], "series_id": "s0", "t": asked}
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["times"] == ["2026-03-01T12:00:00+00:00", "2026-03-01T05:30:00+00:00"]
    assert result["kind"] == ["extrapolation", "interpolation"]
    assert np.array(result["mean"]).shape == (2, 2)

    grid = client.get(
        "/predict",
        params={
            "model_id": accepted["model_id"],
            "series_id": "s1",
            "start": "2026-03-01T00:00:00Z",
            "stop": "2026-03-01T01:00:00Z",
            "num": 3,
        },
    ).json()
    assert grid["times"][1] == "2026-03-01T00:30:00+00:00"
    png = client.get(
        "/predict.png",
        params={"model_id": accepted["model_id"], "series_id": "s1", "t": asked},
    )
    assert png.content.startswith(PNG_SIGNATURE)


def test_job_progress_and_queue_in_metrics(client, fitted) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'odecast_jobs{status="finished"} 1.0' in text
    assert "odecast_queue_length 0.0" in text
    assert 'odecast_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'odecast_http_requests_total{method="POST",route="/fit",status="202"} 1.0' in text
    assert "odecast_http_request_duration_seconds_bucket" in text


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "store": "ok"}
    for path in ("/healthz", "/readyz"):  # load balancers probe with HEAD
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""


def test_a_cancel_that_another_request_beat_is_no_error(
    client, series_maker, settings, redis_client, monkeypatch
) -> None:
    """DELETE /jobs and DELETE /models together: both read the job queued, one cancelled it,
    and the other's cancel raised InvalidJobOperation (a 500, and the model was not deleted)."""
    body = {"series": series_maker(), "model": SMALL_MODEL, "training": FAST_TRAINING}
    accepted = client.post("/fit", json=body).json()
    job = fetch_job(redis_client, accepted["job_id"])
    assert job is not None
    fetch_job(redis_client, accepted["job_id"]).cancel()  # the other request's, first
    seen = iter([JobStatus.QUEUED])  # as this request saw it; rq's own checks see the truth
    real = job.get_status
    monkeypatch.setattr(job, "get_status", lambda *a, **k: next(seen, None) or real(*a, **k))
    request_cancel(redis_client, job, settings)
    assert fetch_job(redis_client, accepted["job_id"]).get_status() == JobStatus.CANCELED


def test_cancel_a_queued_job(client, run_worker, series_maker, settings) -> None:
    body = {"series": series_maker(), "model": SMALL_MODEL, "training": FAST_TRAINING}
    accepted = client.post("/fit", json=body).json()
    cancelled = client.delete(f"/jobs/{accepted['job_id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    run_worker()  # nothing to do: the job left the queue
    assert client.get(f"/jobs/{accepted['job_id']}").json()["status"] == "cancelled"
    model = client.get(f"/models/{accepted['model_id']}").json()
    assert model["status"] == "cancelled"
    assert client.delete(f"/jobs/{accepted['job_id']}").status_code == 409


def test_times_far_beyond_the_data_are_refused_not_solved(client, fitted) -> None:
    params = {"model_id": fitted["model_id"], "series_id": "s0", "t": ["5", "1e9"]}
    answer = client.get("/predict", params=params)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "beyond_horizon" and "index 1" in error["message"]
    assert error["details"][0]["loc"] == "query.t[1]"
    body = {
        "model_id": fitted["model_id"],
        "series": {"id": "far", "times": [-1e11], "values": [0.0]},
        "times": [0.0],
    }
    assert client.post("/predict", json=body).json()["error"]["code"] == "beyond_horizon"
    near = {**params, "t": ["5", "40"]}  # within 10 spans of the series' [0, 10]
    assert client.get("/predict", params=near).status_code == 200


def test_jobs_are_listed_newest_first(client, fitted, series_maker) -> None:
    later = client.post("/fit", json={"series": series_maker(), "training": FAST_TRAINING}).json()
    listed = client.get("/jobs").json()["jobs"]
    assert [j["job_id"] for j in listed] == [later["job_id"], fitted["job_id"]]
    assert [j["status"] for j in listed] == ["queued", "succeeded"]
    assert client.get("/jobs", params={"limit": 1}).json()["jobs"][0]["job_id"] == later["job_id"]
    assert client.get("/jobs", params={"limit": 0}).status_code == 422


def test_a_training_series_observations_are_served(client, fitted, series_maker) -> None:
    sent = fitted["series"][2]
    answer = client.get(f"/models/{fitted['model_id']}/series/{sent['id']}")
    assert answer.status_code == 200, answer.text
    observed = answer.json()
    order = np.argsort(sent["times"])
    assert observed["series_id"] == sent["id"] and observed["model_id"] == fitted["model_id"]
    assert observed["times"] == [sent["times"][i] for i in order]
    np.testing.assert_allclose(np.ravel(observed["values"]), np.asarray(sent["values"])[order])

    unknown = client.get(f"/models/{fitted['model_id']}/series/nope")
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["error"]["message"]
    assert client.get("/models/m-0123456789/series/s0").status_code == 404
    assert client.get(f"/models/{fitted['model_id']}/series/a.b").status_code == 422

    gappy = series_maker(4, 12, dims=2, seed=5)
    gappy[0]["values"][3] = [None, 0.5]
    accepted = client.post("/fit", json={"series": gappy}).json()  # not trained: no worker
    waiting = client.get(f"/models/{accepted['model_id']}/series/s0")
    assert waiting.status_code == 409 and waiting.json()["error"]["code"] == "model_not_ready"


def test_observations_with_a_missing_entry_and_dates(client, run_worker, series_maker) -> None:
    series = series_maker(4, 12, dims=2, seed=6)
    series[1]["values"][0] = [1.5, None]
    series[1]["times"] = [f"2026-01-{day + 1:02d}T06:00:00+02:00" for day in range(12)]
    for s in (series[0], *series[2:]):
        s["times"] = [f"2026-02-{day + 1:02d}T00:00:00Z" for day in range(12)]
    body = {"series": series, "model": SMALL_MODEL, "training": FAST_TRAINING}
    accepted = client.post("/fit", json=body).json()
    run_worker()
    observed = client.get(f"/models/{accepted['model_id']}/series/s1").json()
    assert observed["times"][0] == "2026-01-01T04:00:00+00:00"
    assert observed["values"][0] == [1.5, None]
    assert len(observed["values"]) == 12
