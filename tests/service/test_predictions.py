"""A model whose answer is not a finite number is told as 422 ``prediction_failed`` (an item
error in a batch), never sent as null in a 200."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from fastapi.testclient import TestClient

from models.latent.resume import save_trained_model
from models.series import parse_dataset
from models.store import new_record, open_store
from service.settings import Settings

SERIES = [{"id": "a", "times": [0.0, 1.0, 2.0, 3.0, 4.0], "values": [0.0, 1.0, 0.5, 0.2, 0.9]}]


@pytest.fixture
def blowing_up(settings: Settings, tiny_model) -> str:
    """A stored model whose readout answers NaN (as a model whose dynamics blow up would)."""
    broken = copy.deepcopy(tiny_model.model)
    with torch.no_grad():
        broken.readout.bias.fill_(math.nan)
    trained = dataclasses.replace(tiny_model, model=broken, series_ids=("a",))
    dataset = parse_dataset([{**SERIES[0], "values": [[v, v] for v in SERIES[0]["values"]]}])
    store = open_store(settings.store)
    store.create_model("m-nan", new_record("m-nan", dataset, {}), dataset)
    save_trained_model(store.trained_dir("m-nan"), trained)
    return "m-nan"


def test_a_prediction_that_is_not_finite_is_refused(client: TestClient, blowing_up: str):
    answer = client.get("/predict", params={"model_id": blowing_up, "series_id": "a", "t": [1.5]})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "prediction_failed" and "times[0]" in error["message"]


def test_batch_items_that_are_not_finite_are_item_errors(client: TestClient, blowing_up: str):
    items = [{"series_id": "a", "times": [1.5]}, {"series_id": "a", "times": [2.5, 3.0]}]
    answer = client.post("/predict/batch", json={"model_id": blowing_up, "items": items})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == [None, None]
    assert [e["index"] for e in body["errors"]] == [0, 1]
    assert {e["code"] for e in body["errors"]} == {"prediction_failed"}
