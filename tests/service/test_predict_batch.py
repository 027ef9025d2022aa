"""POST /predict/batch: many series of one model, each answered as its own /predict would be."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from stack_helpers import FAST_TRAINING, SMALL_MODEL, make_series, train_once

from service.app import create_app
from service.settings import Settings

# Items of a batch share one adaptive solve: answers agree with the single requests' within ten
# times the decoder's tolerances.
RTOL, ATOL = 1e-3, 1e-4


@pytest.fixture(scope="module")
def trained_store(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("batch") / "store"
    series = make_series()
    body = {"series": series, "model": SMALL_MODEL, "training": FAST_TRAINING}
    return {"root": root, "series": series, **train_once(redis_url, root, {"model": body})}


@pytest.fixture
def model(settings: Settings, trained_store: dict) -> str:
    model_id = trained_store["model"]
    shutil.copytree(
        trained_store["root"] / "models" / model_id, Path(settings.store) / "models" / model_id
    )
    return model_id


NEW = {"id": "new", "times": [0.0, 1.0, 2.5, 4.0], "values": [0.1, 0.5, 0.9, 0.2]}


def _error(response: Any, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_a_batch_answers_each_item_as_a_single_request_would(client: TestClient, model: str):
    items = [
        {"series_id": "s0", "times": [1.0, 12.0, 3.5]},  # interpolation and extrapolation
        {"series": NEW, "times": [0.5, 6.0]},  # a new series
        {"series_id": "s3", "times": [2.0]},
        {"series_id": "s0", "times": [4.0, 1.0]},  # the same series again
    ]
    body = {"model_id": model, "items": items, "level": [50, 90], "seed": 7}
    response = client.post("/predict/batch", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_id"] == model and answer["errors"] == []
    assert [p["series_id"] for p in answer["predictions"]] == ["s0", "new", "s3", "s0"]
    for item, batched in zip(items, answer["predictions"], strict=True):
        if "series_id" in item:
            params = {"model_id": model, "series_id": item["series_id"], "t": item["times"]}
            single = client.get("/predict", params={**params, "level": [50, 90], "seed": 7})
        else:
            single = client.post(
                "/predict",
                json={
                    "model_id": model,
                    "series": NEW,
                    "times": item["times"],
                    "level": [50, 90],
                    "seed": 7,
                },
            )
        assert single.status_code == 200, single.text
        single = single.json()
        assert batched["times"] == single["times"] and batched["kind"] == single["kind"]
        np.testing.assert_allclose(batched["mean"], single["mean"], rtol=RTOL, atol=ATOL)
        for level in ("50", "90"):
            for side in ("lower", "upper"):
                np.testing.assert_allclose(
                    batched["intervals"][level][side],
                    single["intervals"][level][side],
                    rtol=RTOL,
                    atol=ATOL,
                )


def test_quantiles_are_answered_for_every_item(client: TestClient, model: str):
    items = [{"series_id": "s1", "times": [1.0, 2.0]}, {"series": NEW, "times": [3.0]}]
    body = {"model_id": model, "items": items, "quantiles": [0.25, 0.5]}
    answer = client.post("/predict/batch", json=body).json()
    for prediction in answer["predictions"]:
        low, mid = (np.asarray(prediction["quantiles"][q]) for q in ("0.25", "0.5"))
        assert (low <= mid).all() and prediction["intervals"] == {}


@pytest.mark.parametrize(
    ("items", "status", "code", "loc"),
    [
        (
            [{"series_id": "s0", "series": NEW, "times": [1.0]}],
            422,
            "invalid_input",
            "body.items[0]",
        ),
        ([{"times": [1.0]}], 422, "invalid_input", "body.items[0]"),
        (
            [{"series_id": "s0", "times": [1.0]}, {"series_id": "s0", "times": ["soon"]}],
            422,
            "invalid_times",
            "body.items[1].times[0]",
        ),
        (
            [{"series_id": "s0", "times": [1.0, 1e6]}],
            422,
            "beyond_horizon",
            "body.items[0].times[1]",
        ),
        (
            [{"series": {**NEW, "values": [0.1, None, 0.9]}, "times": [1.0]}],
            422,
            "invalid_series",
            "body.items[0].series",
        ),
        (
            [{"series": {**NEW, "values": [[0.1, 1.0]] * 4}, "times": [1.0]}],
            422,
            "invalid_input",
            "body.items[0].series.values",
        ),
        (
            [{"series_id": "s0", "times": [1.0]}, {"series_id": "nope", "times": [1.0]}],
            404,
            "not_found",
            "body.items[1].series_id",
        ),
    ],
    ids=["both", "neither", "bad_time", "beyond_horizon", "bad_series", "dims", "unknown_series"],
)
def test_bad_items_are_refused_naming_the_item(
    client: TestClient, model: str, items: list, status: int, code: str, loc: str | None
):
    error = _error(client.post("/predict/batch", json={"model_id": model, "items": items}), status)
    assert error["code"] == code, error
    if loc is not None:
        assert loc in [d.get("loc") for d in error.get("details") or []], error


def test_batch_limits(settings: Settings, model: str, redis_client: Any):
    limited = settings.model_copy(
        update={"max_batch_items": 2, "max_batch_times": 5, "max_prediction_values": 1000}
    )
    with TestClient(create_app(limited)) as client:
        three = [{"series_id": f"s{i}", "times": [1.0]} for i in range(3)]
        error = _error(client.post("/predict/batch", json={"model_id": model, "items": three}), 422)
        assert "ODECAST_MAX_BATCH_ITEMS" in error["message"]
        six = [
            {"series_id": "s0", "times": [1.0, 2.0, 3.0]},
            {"series_id": "s1", "times": [1.0, 2.0, 3.0]},
        ]
        error = _error(client.post("/predict/batch", json={"model_id": model, "items": six}), 422)
        assert "ODECAST_MAX_BATCH_TIMES" in error["message"]
        # 100 samples x 11 times x 1 dimension: over 1,000 sampled values, for a batch item and
        # for a single prediction alike.
        times = [float(t) for t in range(11)]
        big = {"model_id": model, "items": [{"series_id": "s0", "times": times[:4]}]}
        assert client.post("/predict/batch", json=big).status_code == 200
        params = {"model_id": model, "series_id": "s0", "t": times}
        error = _error(client.get("/predict", params=params), 422)
        assert error["code"] == "too_large" and "ODECAST_MAX_PREDICTION_VALUES" in error["message"]
    missing = {"model_id": "m-nope", "items": [{"series_id": "s0", "times": [1.0]}]}
    with TestClient(create_app(settings)) as client:
        assert _error(client.post("/predict/batch", json=missing), 404)["code"] == "not_found"
