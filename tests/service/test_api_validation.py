"""Bad input to the HTTP API (SPEC section 2): every mistake a client can make gets the documented
4xx in the one error shape ``{"error": {"code", "message", "details"}}``, and says where it is.

Trained models are shared: one numeric and one datetime model are trained once for the module
(``trained_store``) and copied into each test's fresh store (``trained``).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from stack_helpers import (
    FAST_TRAINING,
    SMALL_MODEL,
    error_of,
    locs,
    make_series,
    model_folders,
    train_once,
    waiting_fits,
)

from models.series import Rule
from service.app import create_app
from service.embedded_redis import free_port
from service.fitting import TIMEOUT_MARGIN_S
from service.settings import Settings

# -- helpers -----------------------------------------------------------------------------------


def post_json_text(client: TestClient, path: str, text: str) -> Any:
    """POST raw JSON text (for NaN and Infinity, which strict JSON encoders refuse)."""
    return client.post(path, content=text, headers={"content-type": "application/json"})


def good_series(count: int = 2, points: int = 5, dims: int = 1) -> list[dict[str, Any]]:
    return make_series(count, points, dims=dims)


def iso(hours: float, offset_hours: int = 0) -> str:
    """``hours`` after 2024-03-01T00:00Z as ISO-8601, written with ``offset_hours`` of offset."""
    moment = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=hours)
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


# -- a numeric and a datetime model, trained once for the module -------------------------------


def _dated(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same series with ISO-8601 times (hours after 2024-03-01, alternating offsets)."""
    return [
        {**s, "times": [iso(t, offset_hours=2 * (i % 2)) for i, t in enumerate(s["times"])]}
        for s in series
    ]


@pytest.fixture(scope="module")
def trained_store(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Trains a numeric 1-D model and a datetime 1-D model through POST /fit and a worker, once."""
    root = tmp_path_factory.mktemp("trained") / "store"
    series = make_series()
    bodies = {
        kind: {"series": data, "model": SMALL_MODEL, "training": FAST_TRAINING}
        for kind, data in (("numeric", series), ("datetime", _dated(series)))
    }
    answers = train_once(redis_url, root, bodies)
    return {"root": root, "series": series, **answers}


@pytest.fixture
def trained(settings: Settings, trained_store: dict) -> dict:
    """The module's trained models, copied into this test's store."""
    for kind in ("numeric", "datetime"):
        model_id = trained_store[kind]
        shutil.copytree(
            trained_store["root"] / "models" / model_id, Path(settings.store) / "models" / model_id
        )
    return trained_store


# -- POST /fit: the series rules ---------------------------------------------------------------


def _set(position: int, **fields: Any) -> Callable[[list[dict]], list[dict]]:
    def change(series: list[dict]) -> list[dict]:
        series[position].update(fields)
        return series

    return change


def _dated_with(**fields: Any) -> Callable[[list[dict]], list[dict]]:
    """Both series with ISO-8601 times, then ``fields`` set on the second."""

    def change(series: list[dict]) -> list[dict]:
        series = _dated(series)
        series[1].update(fields)
        return series

    return change


# (rule, change to two good 5-point 1-D series "s0" and "s1", series named, index named)
SERIES_RULES: list[tuple[str, Rule, Callable[[list[dict]], list[dict]], str, int | None]] = [
    (
        "duplicate_time",
        Rule.DUPLICATE_TIME,
        _set(1, times=[3.0, 1.0, 4.0, 3.0, 2.0]),
        "s1",
        3,
    ),
    (
        "empty_row_1d",
        Rule.EMPTY_ROW,
        _set(1, values=[1.0, 2.0, None, 3.0, 4.0]),
        "s1",
        2,
    ),
    (
        "empty_row_2d",
        Rule.EMPTY_ROW,
        lambda s: [
            {**s[0], "values": [[1.0, 2.0], [1.0, None], [None, 2.0], [1.0, 2.0], [1.0, 2.0]]},
            {**s[1], "values": [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [None, None], [1.0, 2.0]]},
        ],
        "s1",
        3,
    ),
    (
        "scalar_among_rows",
        Rule.RAGGED_ROW,
        _set(1, values=[[1.0], [2.0], 3.0, [4.0], [5.0]]),
        "s1",
        2,
    ),
    ("empty_row_list", Rule.RAGGED_ROW, _set(1, values=[[1.0], [2.0], [], [4.0], [5.0]]), "s1", 2),
    (
        "ragged_row",
        Rule.RAGGED_ROW,
        lambda s: [
            {**s[0], "values": [[1.0, 2.0]] * 5},
            {**s[1], "values": [[1.0, 2.0], [1.0, 2.0], [1.0], [1.0, 2.0], [1.0, 2.0]]},
        ],
        "s1",
        2,
    ),
    (
        "length_mismatch",
        Rule.LENGTH_MISMATCH,
        _set(1, times=[0.0, 1.0, 2.0, 3.0]),
        "s1",
        None,
    ),
    ("duplicate_id", Rule.DUPLICATE_ID, _set(1, id="s0"), "s0", None),
    (
        "mixed_time_kinds_in_a_series",
        Rule.MIXED_TIME_KINDS,
        _set(1, times=[0.0, 1.0, "2024-03-01T00:00:00Z", 3.0, 4.0]),
        "s1",
        2,
    ),
    (
        "mixed_time_kinds_across_series",
        Rule.MIXED_TIME_KINDS,
        _set(1, times=[iso(h) for h in range(5)]),
        "s0",
        0,
    ),
    (
        "iso_without_offset",
        Rule.BAD_TIME,
        _dated_with(times=[iso(0), iso(1), "2024-03-01T02:00:00", iso(3), iso(4)]),
        "s1",
        2,
    ),
    (
        "unparseable_time",
        Rule.BAD_TIME,
        _dated_with(times=[iso(0), "yesterday", iso(2), iso(3), iso(4)]),
        "s1",
        1,
    ),
    (
        "dimension_mismatch",
        Rule.DIMENSION_MISMATCH,
        _set(1, values=[[1.0, 2.0]] * 5),
        "s1",
        None,
    ),
    ("bool_value", Rule.BAD_VALUE, _set(1, values=[1.0, True, 2.0, 3.0, 4.0]), "s1", 1),
    (
        "bool_value_2d",
        Rule.BAD_VALUE,
        _set(1, values=[[1.0], [2.0], [False], [3.0], [4.0]]),
        "s1",
        2,
    ),
    ("string_value", Rule.BAD_VALUE, _set(1, values=[1.0, 2.0, 3.0, "4.5", 5.0]), "s1", 3),
    ("bool_time", Rule.BAD_TIME, _set(1, times=[0.5, True, 2.5, 3.5, 4.5]), "s1", 1),
    ("huge_time", Rule.TIME_OUT_OF_RANGE, _set(1, times=[0.5, 1.5, 2e12, 3.5, 4.5]), "s1", 2),
    ("huge_value", Rule.VALUE_OUT_OF_RANGE, _set(1, values=[1.0, 2.0, 3.0, -1e300, 5.0]), "s1", 3),
]


def _check_series_error(
    response: Any, rule: Rule, series: str, index: int | None, settings: Settings
) -> None:
    error = error_of(response, 422, "invalid_series")
    matching = [
        d
        for d in error["details"]
        if d.get("rule") == str(rule) and d.get("series") == series and d.get("index") == index
    ]
    assert matching, error
    for detail in error["details"]:
        assert {"loc", "series", "index", "rule", "msg"} <= set(detail), detail
        assert detail["loc"] == "body.series", detail
        assert detail["rule"] in {str(r) for r in Rule}, detail
    where = series if index is None else f"{series}[{index}]"
    assert where in error["message"], error
    assert model_folders(settings.store) == []


@pytest.mark.parametrize(
    ("rule", "change", "series", "index"),
    [case[1:] for case in SERIES_RULES],
    ids=[case[0] for case in SERIES_RULES],
)
def test_fit_rejects_a_broken_series_naming_series_index_and_rule(
    client: TestClient, settings: Settings, rule: Rule, change, series: str, index: int | None
) -> None:
    body = {"series": change(good_series())}
    _check_series_error(client.post("/fit", json=body), rule, series, index, settings)


@pytest.mark.parametrize(
    ("where", "token", "rule"),
    [
        ("values", "NaN", Rule.NON_FINITE_VALUE),
        ("values", "Infinity", Rule.NON_FINITE_VALUE),
        ("values", "-Infinity", Rule.NON_FINITE_VALUE),
        ("times", "NaN", Rule.NON_FINITE_TIME),
        ("times", "Infinity", Rule.NON_FINITE_TIME),
    ],
)
def test_fit_rejects_non_finite_numbers(
    client: TestClient, settings: Settings, where: str, token: str, rule: Rule
) -> None:
    series = good_series()
    series[1][where][3] = "@TOKEN@"
    text = json.dumps({"series": series}).replace('"@TOKEN@"', token)
    _check_series_error(post_json_text(client, "/fit", text), rule, "s1", 3, settings)


@pytest.mark.parametrize(
    "bad_id", ["../x", "a/b", "..", "a" * 65, "", "has space", "dot.ted", "é"], ids=repr
)
def test_fit_rejects_a_bad_series_id(client: TestClient, settings: Settings, bad_id: str) -> None:
    series = good_series()
    series[1]["id"] = bad_id
    error = error_of(client.post("/fit", json={"series": series}), 422, "invalid_input")
    assert "body.series[1].id" in locs(error)
    assert error["message"].startswith("body.series[1].id")
    assert model_folders(settings.store) == []


def test_fit_rejects_an_empty_series(client: TestClient, settings: Settings) -> None:
    series = good_series()
    series[1].update(times=[], values=[])
    error = error_of(client.post("/fit", json={"series": series}), 422, "invalid_input")
    assert "body.series[1].times" in locs(error)
    assert "body.series[1].values" in locs(error)
    assert model_folders(settings.store) == []


def test_every_series_rule_is_covered() -> None:
    """A new ``Rule`` needs a test here; bad ids and empty series are caught by the schema."""
    covered = {case[1] for case in SERIES_RULES}
    covered |= {Rule.NON_FINITE_VALUE, Rule.NON_FINITE_TIME, Rule.BAD_ID, Rule.EMPTY}
    assert covered == set(Rule)


def test_fit_lists_every_problem(client: TestClient, settings: Settings) -> None:
    series = good_series(3)
    series[0]["values"][1] = None
    series[2]["times"][4] = series[2]["times"][0]
    error = error_of(client.post("/fit", json={"series": series}), 422, "invalid_series")
    found = {(d["series"], d["index"], d["rule"]) for d in error["details"]}
    assert ("s0", 1, "empty_row") in found
    assert ("s2", 4, "duplicate_time") in found
    assert model_folders(settings.store) == []


# -- POST /fit: model and training settings, unknown fields, wrong types -----------------------


BAD_SETTINGS = [
    ("model", "latent_dim", 0),
    ("model", "latent_dim", -3),
    ("model", "latent_dim", 10_000),
    ("model", "hidden_dim", 0),
    ("model", "encoder_dim", 0),
    ("model", "encoder", "lstm"),
    ("model", "solver", "euler"),
    ("model", "solver", "rk4"),
    ("model", "solver", "adams_bashforth"),
    ("model", "solver", "no-such-solver"),
    ("model", "rtol", -1e-3),
    ("model", "rtol", 0.0),
    ("model", "rtol", 5.0),
    ("model", "atol", -1.0),
    ("model", "gradient", "adjoint"),
    ("training", "epochs", 0),
    ("training", "epochs", -1),
    ("training", "batch_size", 0),
    ("training", "lr", 0.0),
    ("training", "lr", -0.1),
    ("training", "lr", 2.0),
    ("training", "val_fraction", 1.0),
    ("training", "val_fraction", -0.1),
    ("training", "max_seconds", 0),
    ("training", "max_seconds", -5),
    ("training", "seed", -1),
    ("model", "window", 1e-5),  # fewer than 8 typical spacings: windows without end
    ("model", "window", 10**400),
    ("model", "window", "P1D"),  # a duration for numeric times
]


@pytest.mark.parametrize(
    ("section", "field", "value"), BAD_SETTINGS, ids=[f"{s}.{f}={v!r}" for s, f, v in BAD_SETTINGS]
)
def test_fit_rejects_out_of_range_settings(
    client: TestClient, settings: Settings, section: str, field: str, value: Any
) -> None:
    body = {"series": good_series(), section: {field: value}}
    error = error_of(client.post("/fit", json=body), 422, "invalid_input")
    assert f"body.{section}.{field}" in locs(error), error
    assert field in error["message"]
    assert model_folders(settings.store) == []


def test_fit_rejects_max_seconds_beyond_the_job_timeout(
    client: TestClient, settings: Settings
) -> None:
    too_long = settings.job_timeout_s  # the job needs a margin past max_seconds
    body = {"series": good_series(), "training": {"max_seconds": too_long}}
    error = error_of(client.post("/fit", json=body), 422, "invalid_input")
    assert locs(error) == ["body.training.max_seconds"]
    assert "ODECAST_JOB_TIMEOUT_S" in error["message"]
    assert model_folders(settings.store) == []
    longest = settings.job_timeout_s - TIMEOUT_MARGIN_S
    assert str(longest) in error["message"]
    body = {"series": good_series(), "training": {"max_seconds": longest}}
    assert client.post("/fit", json=body).status_code == 202


UNKNOWN_FIELDS = [
    ({"colour": "red"}, "body.colour"),
    ({"model": {"latent_dims": 4}}, "body.model.latent_dims"),
    ({"training": {"epoch": 4}}, "body.training.epoch"),
    ({"training": {"lr_floor": 0.2}}, "body.training.lr_floor"),
    ({"model": {"learn_noise": False}}, "body.model.learn_noise"),
]


@pytest.mark.parametrize(("extra", "loc"), UNKNOWN_FIELDS, ids=[loc for _, loc in UNKNOWN_FIELDS])
def test_fit_rejects_unknown_fields(
    client: TestClient, settings: Settings, extra: dict, loc: str
) -> None:
    error = error_of(client.post("/fit", json={"series": good_series(), **extra}), 422)
    assert error["code"] == "invalid_input"
    assert loc in locs(error), error
    assert model_folders(settings.store) == []


def test_fit_rejects_unknown_fields_in_a_series(client: TestClient, settings: Settings) -> None:
    series = good_series()
    series[1]["unit"] = "kelvin"
    error = error_of(client.post("/fit", json={"series": series}), 422, "invalid_input")
    assert locs(error) == ["body.series[1].unit"]
    assert model_folders(settings.store) == []


WRONG_TYPES = [
    ({"series": {"id": "s0"}}, "body.series"),
    ({"series": "s0,s1"}, "body.series"),
    ({"series": [["s0", [0.0], [1.0]]]}, "body.series[0]"),
    ({"model": [4, 16]}, "body.model"),
    ({"training": 600}, "body.training"),
    ({"training": {"epochs": "ten"}}, "body.training.epochs"),
    ({"training": {"epochs": 2.5}}, "body.training.epochs"),
    ({"model": {"latent_dim": [4]}}, "body.model.latent_dim"),
    ({"name": 5}, "body.name"),
    ({"name": "x" * 201}, "body.name"),
    ({"name": "evil\n\x1b[31mred"}, "body.name"),  # control characters reach terminals
    ({"training": {"epochs": True}}, "body.training.epochs"),
]


@pytest.mark.parametrize(("change", "loc"), WRONG_TYPES, ids=[repr(c) for c, _ in WRONG_TYPES])
def test_fit_rejects_wrong_json_types(
    client: TestClient, settings: Settings, change: dict, loc: str
) -> None:
    body = {"series": good_series(), **change}
    error = error_of(client.post("/fit", json=body), 422, "invalid_input")
    assert loc in locs(error), error
    assert model_folders(settings.store) == []


SERIES_WRONG_TYPES = [
    ("id", 7, "body.series[1].id"),
    ("times", "0,1,2,3,4", "body.series[1].times"),
    ("times", None, "body.series[1].times"),
    ("values", {"a": 1}, "body.series[1].values"),
]


@pytest.mark.parametrize(
    ("field", "value", "loc"), SERIES_WRONG_TYPES, ids=[loc for *_, loc in SERIES_WRONG_TYPES]
)
def test_fit_rejects_wrong_types_in_a_series(
    client: TestClient, settings: Settings, field: str, value: Any, loc: str
) -> None:
    series = good_series()
    series[1][field] = value
    error = error_of(client.post("/fit", json={"series": series}), 422, "invalid_input")
    assert any(str(found).startswith(loc) for found in locs(error)), error
    assert model_folders(settings.store) == []


def test_fit_rejects_missing_fields_of_a_series(client: TestClient, settings: Settings) -> None:
    series = good_series()
    del series[1]["values"]
    error = error_of(client.post("/fit", json={"series": series}), 422, "invalid_input")
    assert "body.series[1].values" in locs(error)


def test_fit_rejects_an_empty_series_list(client: TestClient, settings: Settings) -> None:
    error = error_of(client.post("/fit", json={"series": []}), 422, "invalid_input")
    assert locs(error) == ["body.series"]
    error = error_of(client.post("/fit", json={"model": {"latent_dim": 4}}), 422)
    assert locs(error) == ["body.series"]
    assert model_folders(settings.store) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"series": [', "application/json"),
        (b"series=s0", "application/json"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"null", "application/json"),
        (b"hello", "text/plain"),
        (b"\xff\xfe\x00", "application/json"),
    ],
    ids=["truncated", "form", "empty", "array", "null", "text", "binary"],
)
def test_fit_rejects_a_body_that_is_not_a_json_object(
    client: TestClient, settings: Settings, content: bytes, content_type: str
) -> None:
    response = client.post("/fit", content=content, headers={"content-type": content_type})
    error = error_of(response, 422, "invalid_input")
    assert error["details"], error
    assert all(str(loc).startswith("body") for loc in locs(error)), error
    assert model_folders(settings.store) == []


def test_fit_rejects_an_oversized_body_with_413(client: TestClient, settings: Settings) -> None:
    """SPEC section 2 lists 413 for a body too large (OpenAPI documents it for POST /fit); a
    100 MiB body (padded with whitespace so that it is cheap to parse) is over any sane limit."""
    text = json.dumps({"series": good_series()})
    padded = text[:-1] + " " * (100 * 2**20) + "}"
    error = error_of(post_json_text(client, "/fit", padded), 413, "payload_too_large")
    assert error["message"]
    assert model_folders(settings.store) == []


# -- POST /fit: accepted input -----------------------------------------------------------------


ACCEPTED = {
    "unsorted": [
        {"id": "a", "times": [3.0, 0.5, 2.0, 1.0], "values": [3.0, 0.5, 2.0, 1.0]},
        {"id": "b", "times": [9.0, 7.0, 8.0], "values": [1.0, 2.0, 3.0]},
    ],
    "one_dimensional_integers": [
        {"id": "a", "times": [0, 1, 2], "values": [1, 2, 3]},
        {"id": "b", "times": [0, 2, 5], "values": [1.5, -2, 3e3]},
    ],
    "iso_with_offsets": [
        {"id": "a", "times": [iso(0), iso(1, 2), iso(2, -5)], "values": [1.0, 2.0, 3.0]},
        {"id": "b", "times": ["2024-03-01T00:30:00Z", iso(5)], "values": [1.0, 2.0]},
    ],
    "missing_as_null": [
        {"id": "a", "times": [0.0, 1.0, 2.0], "values": [[1.0, None], [None, 2.0], [1.0, 2.0]]},
        {"id": "b", "times": [0.0, 1.5], "values": [[None, 0.5], [0.2, None]]},
    ],
    "one_point_and_long_id": [
        {"id": "a" * 64, "times": [0.0], "values": [1.0]},
        {"id": "B-_9", "times": [0.0, 1.0], "values": [-1.0, 1.0]},
    ],
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_fit_accepts_valid_series(client: TestClient, settings: Settings, name: str) -> None:
    response = client.post("/fit", json={"series": ACCEPTED[name], "name": name})
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"job_id", "model_id", "status_url"}
    assert answer["status_url"] == f"/jobs/{answer['job_id']}"
    assert response.headers["location"] == answer["status_url"]
    job = client.get(answer["status_url"])
    assert job.status_code == 200, job.text
    assert job.json()["model_id"] == answer["model_id"]
    assert job.json()["status"] == "queued"
    model = client.get(f"/models/{answer['model_id']}").json()
    assert model_folders(settings.store) == [answer["model_id"]]
    assert sorted(model["series_ids"]) == sorted(s["id"] for s in ACCEPTED[name])
    kind = "datetime" if name == "iso_with_offsets" else "numeric"
    assert model["time_kind"] == kind
    assert model["dims"] == (2 if name == "missing_as_null" else 1)
    if name == "unsorted":
        assert model["time_range"] == [0.5, 9.0]
        assert model["n_points"] == 7


# -- Idempotency-Key ---------------------------------------------------------------------------


def test_idempotency_key_same_body_returns_the_same_job(
    client: TestClient, settings: Settings, redis_client: redis.Redis
) -> None:
    body = {"series": good_series(), "training": {"epochs": 3}}
    headers = {"Idempotency-Key": "fit-2024-03-01"}
    first = client.post("/fit", json=body, headers=headers)
    second = client.post("/fit", json=body, headers=headers)
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json() == second.json()
    assert second.headers["location"] == first.json()["status_url"]
    assert waiting_fits(settings.queue, redis_client) == 1
    models = client.get("/models").json()["models"]
    assert [m["model_id"] for m in models] == [first.json()["model_id"]]
    assert model_folders(settings.store) == [first.json()["model_id"]]
    # another key is another fit
    third = client.post("/fit", json=body, headers={"Idempotency-Key": "other"})
    assert third.status_code == 202
    assert third.json()["job_id"] != first.json()["job_id"]


def test_an_idempotency_key_is_kept_a_day_only_once_its_fit_is_enqueued(
    client: TestClient, settings: Settings, redis_client: redis.Redis, monkeypatch
) -> None:
    """A process killed between the claim and the enqueue left the key naming ids never
    created, for its whole day: a claim lasts CLAIM_S until the job is queued."""
    from models.store import Store
    from service import fitting

    claims: list[int] = []
    create = Store.create_model

    def while_creating(self, *args, **kwargs) -> None:
        (key,) = redis_client.keys("*idempotency*")
        claims.append(redis_client.ttl(key))
        create(self, *args, **kwargs)

    monkeypatch.setattr(Store, "create_model", while_creating)
    headers = {"Idempotency-Key": "k-claim"}
    assert client.post("/fit", json={"series": good_series()}, headers=headers).status_code == 202
    (key,) = redis_client.keys("*idempotency*")
    assert 0 < claims[0] <= fitting.CLAIM_S < redis_client.ttl(key) <= settings.idempotency_ttl_s


def test_idempotency_key_with_another_body_is_rejected(
    client: TestClient, settings: Settings, redis_client: redis.Redis
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = client.post("/fit", json={"series": good_series()}, headers=headers)
    assert first.status_code == 202
    other = {"series": good_series(), "training": {"epochs": 7}}
    error = error_of(
        client.post("/fit", json=other, headers=headers), 422, "idempotency_key_reused"
    )
    assert locs(error) == ["header.Idempotency-Key"]
    assert waiting_fits(settings.queue, redis_client) == 1
    assert model_folders(settings.store) == [first.json()["model_id"]]


def test_a_rejected_body_does_not_use_up_its_idempotency_key(
    client: TestClient, settings: Settings
) -> None:
    headers = {"Idempotency-Key": "k-2"}
    bad = client.post(
        "/fit", json={"series": good_series(), "model": {"latent_dim": 0}}, headers=headers
    )
    error_of(bad, 422, "invalid_input")
    good = client.post("/fit", json={"series": good_series()}, headers=headers)
    assert good.status_code == 202, good.text


def test_idempotency_key_too_long(client: TestClient, settings: Settings) -> None:
    response = client.post(
        "/fit", json={"series": good_series()}, headers={"Idempotency-Key": "k" * 201}
    )
    error = error_of(response, 422, "invalid_input")
    assert locs(error) == ["header.Idempotency-Key"]
    assert model_folders(settings.store) == []


# -- /jobs and /models ids ---------------------------------------------------------------------


MALFORMED_IDS = ["bad%20id%21", "a" * 65, "x.y", "%2E%2E"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/jobs/{}"),
        ("DELETE", "/jobs/{}"),
        ("GET", "/models/{}"),
        ("DELETE", "/models/{}"),
    ],
)
def test_unknown_and_malformed_ids(client: TestClient, method: str, path: str) -> None:
    what = "job" if path.startswith("/jobs") else "model"
    unknown = "m-" + "0" * 62  # 64 characters: the longest valid id
    error = error_of(client.request(method, path.format(unknown)), 404, "not_found")
    assert unknown in error["message"] and what in error["message"]
    field = "path.job_id" if what == "job" else "path.model_id"
    for malformed in MALFORMED_IDS:
        error = error_of(client.request(method, path.format(malformed)), 422, "invalid_input")
        assert locs(error) == [field], (malformed, error)


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    error_of(client.get("/no-such-thing"), 404, "not_found")
    error_of(client.put("/fit", json={}), 405, "method_not_allowed")
    error_of(client.get("/fit"), 405, "method_not_allowed")


def test_cancelling_a_finished_job_conflicts(client: TestClient, fitted: dict) -> None:
    job = client.get(f"/jobs/{fitted['job_id']}").json()
    assert job["status"] == "succeeded"
    error = error_of(client.delete(f"/jobs/{fitted['job_id']}"), 409, "job_finished")
    assert fitted["job_id"] in error["message"]
    assert client.get(f"/models/{fitted['model_id']}").json()["status"] == "ready"


def test_cancelling_a_cancelled_job_conflicts(client: TestClient) -> None:
    answer = client.post("/fit", json={"series": good_series()}).json()
    cancelled = client.delete(f"/jobs/{answer['job_id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    error = error_of(client.delete(f"/jobs/{answer['job_id']}"), 409, "job_finished")
    assert answer["job_id"] in error["message"]


# -- GET /predict ------------------------------------------------------------------------------


def _predict(client: TestClient, model: str, path: str = "/predict", **params: Any) -> Any:
    """GET ``path`` for series s0 of ``model``; ``params`` add to (or replace) the query."""
    return client.get(path, params={"model_id": model, "series_id": "s0", **params})


def test_predict_answers_a_good_request(client: TestClient, trained: dict) -> None:
    """The baseline for the 4xx below: the same model answers a valid request."""
    response = _predict(client, trained["numeric"], t=[1.0, 12.0], level=[50, 90])
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == ["interpolation", "extrapolation"]
    assert set(response.json()["intervals"]) == {"50", "90"}


BAD_QUERIES: list[tuple[str, dict[str, Any], int, str, str | None]] = [
    ("no_times", {}, 422, "invalid_input", "query"),
    ("empty_times", {"times": ""}, 422, "invalid_input", "query"),
    ("times_and_grid", {"t": [1.0], "start": 0, "stop": 1, "num": 3}, 422, "invalid_input", None),
    ("times_list_and_grid", {"times": "1,2", "num": 3}, 422, "invalid_input", None),
    ("half_grid", {"start": 0, "stop": 1}, 422, "invalid_input", "query"),
    ("level_and_quantiles", {"t": [1.0], "level": [80], "quantiles": [0.5]}, 422, None, None),
    ("level_0", {"t": [1.0], "level": [0]}, 422, "invalid_input", None),
    ("level_100", {"t": [1.0], "level": [100]}, 422, "invalid_input", None),
    ("level_150", {"t": [1.0], "level": [80, 150]}, 422, "invalid_input", None),
    ("level_negative", {"t": [1.0], "level": [-10]}, 422, "invalid_input", None),
    ("level_nan", {"t": [1.0], "level": ["nan"]}, 422, "invalid_input", None),
    ("level_text", {"t": [1.0], "level": ["wide"]}, 422, "invalid_input", "query.level[0]"),
    ("quantile_1.5", {"t": [1.0], "quantiles": [0.5, 1.5]}, 422, "invalid_input", None),
    ("quantile_negative", {"t": [1.0], "quantiles": [-0.1]}, 422, "invalid_input", None),
    ("n_samples_0", {"t": [1.0], "n_samples": 0}, 422, "invalid_input", "query.n_samples"),
    ("seed_negative", {"t": [1.0], "seed": -1}, 422, "invalid_input", "query.seed"),
    ("t_text", {"t": ["1.0", "soon"]}, 422, "invalid_times", "query.t[1]"),
    ("t_iso", {"t": ["2024-03-01T00:00:00Z"]}, 422, "invalid_times", "query.t[0]"),
    ("t_nan", {"t": ["2.0", "nan"]}, 422, "invalid_times", "query.t[1]"),
    ("t_inf", {"t": ["inf"]}, 422, "invalid_times", "query.t[0]"),
    ("times_gap", {"times": "1,,2"}, 422, "invalid_times", "query.t[1]"),
    (
        "grid_stop_before_start",
        {"start": 5, "stop": 1, "num": 3},
        422,
        "invalid_input",
        "query.stop",
    ),
    ("grid_equal_ends", {"start": 5, "stop": 5, "num": 3}, 422, "invalid_input", "query.stop"),
    ("grid_num_0", {"start": 0, "stop": 1, "num": 0}, 422, "invalid_input", "query.num"),
    ("grid_num_text", {"start": 0, "stop": 1, "num": "ten"}, 422, "invalid_input", "query.num"),
    ("grid_start_text", {"start": "dawn", "stop": 1, "num": 3}, 422, "invalid_times", None),
    ("model_id_path", {"model_id": "../x", "t": [1.0]}, 422, "invalid_input", "query.model_id"),
    ("series_id_path", {"series_id": "../s0", "t": [1.0]}, 422, "invalid_input", "query.series_id"),
    (
        "series_id_long",
        {"series_id": "s" * 65, "t": [1.0]},
        422,
        "invalid_input",
        "query.series_id",
    ),
    ("unknown_model", {"model_id": "m-nothere", "t": [1.0]}, 404, "not_found", None),
    ("unknown_series", {"series_id": "s99", "t": [1.0]}, 404, "not_found", None),
]


@pytest.mark.parametrize(
    ("params", "status", "code", "loc"),
    [case[1:] for case in BAD_QUERIES],
    ids=[case[0] for case in BAD_QUERIES],
)
def test_get_predict_rejects_bad_queries(
    client: TestClient, trained: dict, params: dict, status: int, code: str | None, loc: str | None
) -> None:
    error = error_of(_predict(client, trained["numeric"], **params), status, code)
    if status == 422:
        assert error["details"], error
    if loc is not None:
        assert loc in locs(error), error


def test_get_predict_unknown_series_points_to_post_predict(
    client: TestClient, trained: dict
) -> None:
    error = error_of(_predict(client, trained["numeric"], series_id="s99", t=[1.0]), 404)
    assert error["code"] == "not_found"
    assert "s99" in error["message"]
    assert "POST" in error["message"] and "/predict" in error["message"]


def test_get_predict_unknown_model(client: TestClient, trained: dict) -> None:
    error = error_of(_predict(client, "m-nothere", t=[1.0]), 404, "not_found")
    assert "m-nothere" in error["message"]


def test_get_predict_limits_samples_and_times(
    client: TestClient, settings: Settings, trained: dict
) -> None:
    model_id = trained["numeric"]
    too_many = settings.max_samples + 1
    error = error_of(_predict(client, model_id, t=[1.0], n_samples=too_many), 422, "invalid_input")
    assert locs(error) == ["query.n_samples"]
    assert str(settings.max_samples) in error["message"]
    count = settings.max_predict_times + 1
    times = ",".join(str(i % 10) for i in range(count))
    error = error_of(_predict(client, model_id, times=times), 422, "too_many_times")
    assert str(settings.max_predict_times) in error["message"]
    grid = {"start": 0, "stop": 1, "num": count}
    error = error_of(_predict(client, model_id, **grid), 422, "invalid_input")
    assert locs(error) == ["query.num"]
    # within the limits, the same requests are answered
    assert _predict(client, model_id, t=[1.0], n_samples=2).status_code == 200


def test_interval_and_sample_errors_locate_the_parameter(client: TestClient, trained: dict) -> None:
    """Every other 422 says where: ``query.<name>`` or ``body.<name>``; so should level,
    quantiles and n_samples, in the query of GET /predict and in the body of POST /predict."""
    model_id = trained["numeric"]
    for params, loc in (
        ({"level": [150]}, "query.level"),
        ({"quantiles": [1.5]}, "query.quantiles"),
        ({"level": [80], "quantiles": [0.5]}, "query.level"),
    ):
        error = error_of(_predict(client, model_id, t=[1.0], **params), 422, "invalid_input")
        assert locs(error) == [loc], (params, error)
    body = {"model_id": model_id, "series": NEW_SERIES, "times": [1.0]}
    for change, loc in (
        ({"level": [0]}, "body.level"),
        ({"quantiles": [1.5]}, "body.quantiles"),
        ({"n_samples": 10**9}, "body.n_samples"),
    ):
        error = error_of(client.post("/predict", json={**body, **change}), 422, "invalid_input")
        assert locs(error) == [loc], (change, error)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"t": ["1.5"]}, "query.t[0]"),
        ({"t": ["2024-03-01T01:00:00Z", "2024-03-01T02:00:00"]}, "query.t[1]"),
        ({"times": "2024-03-01T01:00:00Z,tomorrow"}, "query.t[1]"),
        ({"start": "2024-03-01T05:00:00Z", "stop": "2024-03-01T01:00:00Z", "num": 4}, "query.stop"),
        ({"start": "2024-03-01T01:00:00Z", "stop": "5", "num": 4}, None),
    ],
    ids=["number", "no_offset", "unparseable", "stop_before_start", "mixed_grid"],
)
def test_get_predict_datetime_model_rejects_other_times(
    client: TestClient, trained: dict, params: dict, loc: str | None
) -> None:
    error = error_of(_predict(client, trained["datetime"], **params), 422)
    if loc is not None:
        assert loc in locs(error), error
    good = _predict(client, trained["datetime"], t=["2024-03-01T03:00:00+02:00"])
    assert good.status_code == 200, good.text
    assert good.json()["times"] == ["2024-03-01T01:00:00+00:00"]


def test_get_predict_takes_an_offset_whose_plus_was_not_encoded(
    client: TestClient, trained: dict
) -> None:
    """A "+" typed into a URL arrives as a space; a space before a trailing two-digit offset
    can only have been that "+"."""
    model = trained["datetime"]
    times = "t=2024-03-01T03:00:00+02:00&t=2024-03-01 04:30+0200&t=2024-03-01T01:00:00-01:00"
    response = client.get(f"/predict?model_id={model}&series_id=s0&{times}")
    assert response.status_code == 200, response.text
    assert response.json()["times"] == [
        "2024-03-01T01:00:00+00:00",
        "2024-03-01T02:30:00+00:00",
        "2024-03-01T02:00:00+00:00",
    ]
    grid = client.get(
        f"/predict?model_id={model}&series_id=s0&start=2024-03-01T03:00:00+02:00"
        "&stop=2024-03-01T02:00:00Z&num=2"
    )
    assert grid.status_code == 200, grid.text
    assert grid.json()["times"][0] == "2024-03-01T01:00:00+00:00"


@pytest.mark.parametrize(
    ("params", "status"),
    [({"t": [1.0], "level": [150]}, 422), ({}, 422), ({"series_id": "s99", "t": [1.0]}, 404)],
    ids=["level", "no_times", "unknown_series"],
)
def test_get_predict_png_rejects_like_get_predict(
    client: TestClient, trained: dict, params: dict, status: int
) -> None:
    error_of(_predict(client, trained["numeric"], path="/predict.png", **params), status)


def test_predict_on_a_model_not_trained_yet(client: TestClient) -> None:
    answer = client.post("/fit", json={"series": good_series()}).json()
    model_id, job_id = answer["model_id"], answer["job_id"]
    for response in (
        _predict(client, model_id, t=[1.0]),
        _predict(client, model_id, path="/predict.png", t=[1.0]),
        client.post(
            "/predict",
            json={"model_id": model_id, "series": good_series(1)[0], "times": [1.0]},
        ),
    ):
        error = error_of(response, 409, "model_not_ready")
        assert model_id in error["message"]
        assert job_id in error["message"]


# -- POST /predict -----------------------------------------------------------------------------


NEW_SERIES = {"id": "new", "times": [0.0, 1.0, 2.5], "values": [0.1, 0.5, 0.9]}

BAD_POST_PREDICT: list[tuple[str, dict[str, Any], str, str | None]] = [
    (
        "two_dims",
        {"series": {**NEW_SERIES, "values": [[1, 2]] * 3}},
        "invalid_input",
        "body.series.values",
    ),
    (
        "iso_series",
        {"series": {**NEW_SERIES, "times": [iso(0), iso(1), iso(2)]}},
        "invalid_input",
        "body.series.times",
    ),
    ("iso_times", {"times": [1.0, "2024-03-01T00:00:00Z"]}, "invalid_times", "body.times[1]"),
    ("text_times", {"times": ["later"]}, "invalid_times", "body.times[0]"),
    ("empty_times", {"times": []}, "invalid_input", "body.times"),
    ("no_series", {"series": None}, "invalid_input", "body.series"),
    ("unknown_field", {"horizon": 3}, "invalid_input", "body.horizon"),
    (
        "unknown_series_field",
        {"series": {**NEW_SERIES, "unit": "K"}},
        "invalid_input",
        "body.series.unit",
    ),
    (
        "bad_series_id",
        {"series": {**NEW_SERIES, "id": "../new"}},
        "invalid_input",
        "body.series.id",
    ),
    ("bad_model_id", {"model_id": "../m"}, "invalid_input", "body.model_id"),
    ("level_and_quantiles", {"level": [80], "quantiles": [0.5]}, "invalid_input", None),
    ("level_100", {"level": [100]}, "invalid_input", None),
    ("quantile_2", {"quantiles": [2]}, "invalid_input", None),
    ("n_samples_0", {"n_samples": 0}, "invalid_input", "body.n_samples"),
    ("bool_time", {"times": [True]}, "invalid_times", "body.times[0]"),
]


@pytest.mark.parametrize(
    ("change", "code", "loc"),
    [case[1:] for case in BAD_POST_PREDICT],
    ids=[case[0] for case in BAD_POST_PREDICT],
)
def test_post_predict_rejects_bad_bodies(
    client: TestClient, trained: dict, change: dict, code: str, loc: str | None
) -> None:
    body = {"model_id": trained["numeric"], "series": NEW_SERIES, "times": [1.0, 3.0], **change}
    body = {k: v for k, v in body.items() if v is not None}
    error = error_of(client.post("/predict", json=body), 422, code)
    if loc is not None:
        assert loc in locs(error), error


@pytest.mark.parametrize(
    ("series", "rule", "index"),
    [
        ({**NEW_SERIES, "times": [0.0, 1.0, 0.0]}, Rule.DUPLICATE_TIME, 2),
        ({**NEW_SERIES, "values": [0.1, None, 0.9]}, Rule.EMPTY_ROW, 1),
        ({**NEW_SERIES, "values": [[0.1], [0.5, 0.2], [0.9]]}, Rule.RAGGED_ROW, 1),
        ({**NEW_SERIES, "values": [0.1, 0.5, True]}, Rule.BAD_VALUE, 2),
    ],
    ids=["duplicate_time", "empty_row", "ragged_row", "bool_value"],
)
def test_post_predict_rejects_an_invalid_series(
    client: TestClient, trained: dict, series: dict, rule: Rule, index: int
) -> None:
    body = {"model_id": trained["numeric"], "series": series, "times": [1.0]}
    error = error_of(client.post("/predict", json=body), 422, "invalid_series")
    assert {"loc": "body.series", "series": "new", "index": index, "rule": str(rule)}.items() <= (
        error["details"][0].items()
    ), error
    assert f"new[{index}]" in error["message"]


def test_post_predict_rejects_non_finite_values(client: TestClient, trained: dict) -> None:
    body = {"model_id": trained["numeric"], "series": {**NEW_SERIES, "values": [0.1, "@", 0.9]}}
    text = json.dumps({**body, "times": [1.0]}).replace('"@"', "NaN")
    error = error_of(post_json_text(client, "/predict", text), 422, "invalid_series")
    assert (error["details"][0]["series"], error["details"][0]["index"]) == ("new", 1)
    assert error["details"][0]["rule"] == str(Rule.NON_FINITE_VALUE)
    text = json.dumps({**body, "series": NEW_SERIES, "times": ["@"]}).replace('"@"', "Infinity")
    error = error_of(post_json_text(client, "/predict", text), 422, "invalid_times")
    assert locs(error) == ["body.times[0]"]


def test_post_predict_datetime_model_rejects_numeric_series(
    client: TestClient, trained: dict
) -> None:
    body = {"model_id": trained["datetime"], "series": NEW_SERIES, "times": [iso(1)]}
    error = error_of(client.post("/predict", json=body), 422, "invalid_input")
    assert locs(error) == ["body.series.times"]
    body["series"] = {**NEW_SERIES, "times": [iso(0), iso(1), iso(2)]}
    assert client.post("/predict", json=body).status_code == 200


def test_post_predict_limits_times_and_samples(
    client: TestClient, settings: Settings, trained: dict
) -> None:
    body = {"model_id": trained["numeric"], "series": NEW_SERIES}
    count = settings.max_predict_times + 1
    many = [i / count for i in range(count)]
    error_of(client.post("/predict", json={**body, "times": many}), 422, "too_many_times")
    samples = settings.max_samples + 1
    response = client.post("/predict", json={**body, "times": [1.0], "n_samples": samples})
    error = error_of(response, 422, "invalid_input")
    assert str(settings.max_samples) in error["message"]
    unknown = client.post("/predict", json={**body, "model_id": "m-nothere", "times": [1.0]})
    error_of(unknown, 404, "not_found")


# -- Redis down --------------------------------------------------------------------------------


@pytest.fixture
def redis_down(settings: Settings) -> Iterator[TestClient]:
    """The app on settings whose Redis is a closed port (same store)."""
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(down)) as test_client:
        yield test_client


def test_fit_without_redis_is_503_and_stores_nothing(
    redis_down: TestClient, settings: Settings
) -> None:
    for headers in ({}, {"Idempotency-Key": "k-down"}):
        response = redis_down.post("/fit", json={"series": good_series()}, headers=headers)
        error = error_of(response, 503, "queue_unavailable")
        assert int(response.headers["retry-after"]) > 0
        assert "redis" in error["message"].lower()
        assert model_folders(settings.store) == []


def test_health_without_redis(redis_down: TestClient) -> None:
    assert redis_down.get("/healthz").status_code == 200
    ready = redis_down.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"] != "ok"
    assert ready.json()["checks"]["store"] == "ok"
    assert redis_down.head("/readyz").status_code == 503
    error_of(redis_down.get("/jobs/j-1"), 503, "queue_unavailable")


def test_predict_without_redis_serves_stored_models(redis_down: TestClient, trained: dict) -> None:
    model_id = trained["numeric"]
    response = _predict(redis_down, model_id, t=[0.5, 11.0])
    assert response.status_code == 200, response.text
    assert all(math.isfinite(v[0]) for v in response.json()["mean"])
    body = {"model_id": model_id, "series": NEW_SERIES, "times": [1.0]}
    assert redis_down.post("/predict", json=body).status_code == 200
    listed = redis_down.get("/models").json()["models"]
    assert model_id in {m["model_id"] for m in listed}
    # and bad input is still told apart from an unavailable queue
    error_of(_predict(redis_down, model_id, t=[1.0], level=[150]), 422)
    error_of(_predict(redis_down, "m-nothere", t=[1.0]), 404, "not_found")


# -- OpenAPI -----------------------------------------------------------------------------------


SPEC_OPERATIONS = {
    "/fit": {"post"},
    "/jobs/{job_id}": {"get", "delete"},
    "/models": {"get"},
    "/models/{model_id}": {"get", "delete"},
    "/predict": {"get", "post"},
    "/predict.png": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}


def test_openapi_documents_the_spec(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, methods in SPEC_OPERATIONS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), (path, schema["paths"][path].keys())
    error_ref = "#/components/schemas/ErrorResponse"
    fit = schema["paths"]["/fit"]["post"]["responses"]
    assert {"202", "422", "503"} <= set(fit)
    for status in ("422", "503"):
        assert fit[status]["content"]["application/json"]["schema"] == {"$ref": error_ref}
    assert "FitAccepted" in json.dumps(fit["202"])
    components = schema["components"]["schemas"]
    body = components["ErrorBody"]
    assert set(body["required"]) >= {"code", "message"}
    assert set(body["properties"]) == {"code", "message", "details"}
    # no operation documents FastAPI's default 422 shape, which the API never sends
    assert "HTTPValidationError" not in json.dumps(schema["paths"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in answer and path != "/readyz":
                    ref = answer["content"]["application/json"]["schema"]
                    assert ref == {"$ref": error_ref}, (method, path, status)
    assert client.get("/docs").status_code == 200
