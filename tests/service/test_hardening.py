"""Hardening (input limits, API keys, ids and damaged files, no pickle).

- every size limit is a setting (``ODECAST_MAX_*``) and answers 422 ``too_large`` (or 413 for the
  body, also when it streams in without a Content-Length) naming where and which setting;
- with ``ODECAST_API_KEYS`` set, every operation but /healthz and /readyz needs ``X-API-Key``, and
  no key ends up in logs, Redis or the store;
- ids that could walk out of the store are refused wherever they enter, and a damaged model
  answers 409 while the others keep serving;
- nothing unpickles: neither the code nor the job queue.

One small model is trained once for the module (``trained_store``) and copied into each test's
store (``install``), as in ``test_api_validation``.
"""

from __future__ import annotations

import ast
import base64
import binascii
import contextlib
import errno
import json
import logging
import os
import re
import shutil
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
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
from service.settings import Settings, get_settings

PROJECT = Path(__file__).resolve().parents[2]
HEALTHY = "m-healthy"
DAMAGED = "m-damaged"
NEW_SERIES = {"id": "new", "times": [0.0, 1.0, 2.5], "values": [0.1, 0.5, 0.9]}

# -- helpers -----------------------------------------------------------------------------------


def app_with(settings: Settings, **changes: Any) -> TestClient:
    """A client of the app on ``settings`` changed by ``changes`` (use it as a context manager)."""
    return TestClient(create_app(settings.model_copy(update=changes)))


def predict(client: TestClient, model_id: str, path: str = "/predict", **params: Any) -> Any:
    return client.get(path, params={"model_id": model_id, "series_id": "s0", **params})


def series_of(count: int, points: int, dims: int = 1) -> list[dict[str, Any]]:
    return make_series(count, points, dims=dims)


# -- one trained model for the module ----------------------------------------------------------


@pytest.fixture(scope="module")
def trained_store(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Trains one numeric 1-D model through POST /fit and a worker, once for the module."""
    root = tmp_path_factory.mktemp("hardening") / "store"
    body = {"series": make_series(), "model": SMALL_MODEL, "training": FAST_TRAINING}
    model_id = train_once(redis_url, root, {"model": body})["model"]
    return {"folder": root / "models" / model_id}


def install(settings: Settings, trained_store: dict, model_id: str) -> Path:
    """Copy the module's trained model into this test's store as ``model_id``."""
    folder = Path(settings.store) / "models" / model_id
    shutil.copytree(trained_store["folder"], folder)
    record = json.loads((folder / "record.json").read_text())
    (folder / "record.json").write_text(json.dumps({**record, "model_id": model_id}))
    return folder


@pytest.fixture
def healthy(settings: Settings, trained_store: dict) -> str:
    install(settings, trained_store, HEALTHY)
    return HEALTHY


# -- size limits of series (POST /fit and POST /predict) ----------------------------------------


def _one_series_longer(count: int, points: int, longer: int) -> list[dict[str, Any]]:
    series = series_of(count, points)
    series[1] = series_of(2, longer)[1]
    return series


def _dims(first: int, second: int) -> list[dict[str, Any]]:
    return [series_of(1, 5, dims=first)[0], {**series_of(2, 5, dims=second)[1]}]


# (setting field, its value, a body over it, the loc named, the same at the limit)
FIT_LIMITS = [
    ("max_series", 2, series_of(3, 5), "body.series", series_of(2, 5)),
    (
        "max_points_per_series",
        5,
        _one_series_longer(3, 5, 6),
        "body.series[1].times",
        series_of(3, 5),
    ),
    ("max_points", 12, series_of(3, 5), "body.series", series_of(3, 4)),
    ("max_dims", 2, _dims(2, 3), "body.series[1].values", _dims(2, 2)),
]


@pytest.mark.parametrize(
    ("field", "limit", "over", "loc", "at_limit"), FIT_LIMITS, ids=[c[0] for c in FIT_LIMITS]
)
def test_fit_size_limits_are_settings(
    settings: Settings,
    redis_client: redis.Redis,
    field: str,
    limit: int,
    over: list[dict],
    loc: str,
    at_limit: list[dict],
) -> None:
    setting = f"ODECAST_{field.upper()}"
    with app_with(settings, **{field: limit}) as client:
        error = error_of(client.post("/fit", json={"series": over}), 422, "too_large")
        assert locs(error) == [loc], error
        assert error["message"].startswith(loc), error
        # the setting is named, and not only as the prefix of a longer one
        assert re.search(rf"{setting}(?![A-Z_])", error["message"]), error
        assert model_folders(settings.store) == []
        assert waiting_fits(settings.queue, redis_client) == 0
        accepted = client.post("/fit", json={"series": at_limit})
        assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize(
    ("field", "limit", "series", "loc"),
    [
        ("max_points_per_series", 3, {**series_of(1, 4)[0], "id": "new"}, "body.series.times"),
        ("max_dims", 1, {**series_of(1, 4, dims=2)[0], "id": "new"}, "body.series.values"),
        # POST /predict sends one series: its points are all the request's points
        ("max_points", 3, {**series_of(1, 4)[0], "id": "new"}, "body.series"),
    ],
    ids=["max_points_per_series", "max_dims", "max_points"],
)
def test_post_predict_series_limits(
    settings: Settings, healthy: str, field: str, limit: int, series: dict, loc: str
) -> None:
    setting = f"ODECAST_{field.upper()}"
    with app_with(settings, **{field: limit}) as client:
        body = {"model_id": healthy, "series": series, "times": [1.0], "n_samples": 2}
        error = error_of(client.post("/predict", json=body), 422, "too_large")
        assert any(str(found).startswith(loc) for found in locs(error)), error
        assert re.search(rf"{setting}(?![A-Z_])", error["message"]), error
        small = {**body, "series": NEW_SERIES}
        assert client.post("/predict", json=small).status_code == 200


def test_predict_times_and_samples_limits(settings: Settings, healthy: str) -> None:
    with app_with(settings, max_predict_times=5, max_samples=7) as client:
        six = [0.5 * i for i in range(6)]
        for path in ("/predict", "/predict.png"):
            error = error_of(predict(client, healthy, path, t=six, n_samples=2), 422)
            assert error["code"] == "too_many_times", error
            assert "ODECAST_MAX_PREDICT_TIMES" in error["message"]
            assert locs(error) == ["query.t"], error
            csv = ",".join(map(str, six))
            error_of(predict(client, healthy, path, times=csv, n_samples=2), 422, "too_many_times")
            error = error_of(predict(client, healthy, path, t=[1.0], n_samples=8), 422)
            assert locs(error) == ["query.n_samples"], error
            assert "7" in error["message"]
            assert predict(client, healthy, path, t=six[:5], n_samples=7).status_code == 200
        body = {"model_id": healthy, "series": NEW_SERIES, "times": six, "n_samples": 2}
        error = error_of(client.post("/predict", json=body), 422, "too_many_times")
        assert locs(error) == ["body.times"], error
        error = error_of(
            client.post("/predict", json={**body, "times": [1.0], "n_samples": 8}), 422
        )
        assert locs(error) == ["body.n_samples"], error
        good = client.post("/predict", json={**body, "times": six[:5], "n_samples": 7})
        assert good.status_code == 200, good.text


def test_at_most_20_levels_or_quantiles(client: TestClient, healthy: str) -> None:
    levels = [float(x) for x in range(50, 71)]  # 21
    quantiles = [round(0.02 + 0.04 * i, 2) for i in range(21)]
    for path in ("/predict", "/predict.png"):
        for name, values in (("level", levels), ("quantiles", quantiles)):
            response = predict(client, healthy, path, t=[1.0], n_samples=2, **{name: values})
            error = error_of(response, 422, "invalid_input")
            assert locs(error) == [f"query.{name}"], error
    body = {"model_id": healthy, "series": NEW_SERIES, "times": [1.0], "n_samples": 2}
    for name, values in (("level", levels), ("quantiles", quantiles)):
        error = error_of(client.post("/predict", json={**body, name: values}), 422, "invalid_input")
        assert locs(error) == [f"body.{name}"], error
    twenty = predict(client, healthy, t=[1.0], n_samples=2, level=levels[:20])
    assert twenty.status_code == 200, twenty.text
    assert len(twenty.json()["intervals"]) == 20
    twenty = client.post("/predict", json={**body, "quantiles": quantiles[:20]})
    assert twenty.status_code == 200, twenty.text


# -- the body size limit -----------------------------------------------------------------------

BODY_LIMIT = 4096


def _fit_text(size: int) -> bytes:
    """A valid POST /fit body of exactly ``size`` bytes (padded with spaces)."""
    text = json.dumps({"series": series_of(2, 5)})
    assert len(text) < size
    return (text[:-1] + " " * (size - len(text)) + "}").encode()


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class ScopeRecorder:
    """An ASGI wrapper that keeps the headers of every HTTP request the app receives."""

    def __init__(self, app: Any) -> None:
        self.app, self.headers = app, []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode().lower(): v for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@pytest.fixture
def body_limited(settings: Settings, redis_client: redis.Redis) -> Iterator[tuple]:
    recorder = ScopeRecorder(create_app(settings.model_copy(update={"max_body_bytes": BODY_LIMIT})))
    with TestClient(recorder) as client:
        yield client, recorder


def _check_413(response: Any, settings: Settings, redis_client: redis.Redis) -> None:
    error = error_of(response, 413, "payload_too_large")
    assert "ODECAST_MAX_BODY_BYTES" in error["message"], error
    assert str(BODY_LIMIT) in error["message"], error
    assert model_folders(settings.store) == []
    assert waiting_fits(settings.queue, redis_client) == 0


def test_body_over_the_limit_with_content_length_is_413(
    body_limited: tuple, settings: Settings, redis_client: redis.Redis
) -> None:
    client, recorder = body_limited
    data = _fit_text(BODY_LIMIT + 1)
    headers = {"content-type": "application/json"}
    response = client.post("/fit", content=data, headers=headers)
    assert recorder.headers[-1]["content-length"] == str(BODY_LIMIT + 1).encode()
    _check_413(response, settings, redis_client)
    predict_body = json.dumps({"model_id": HEALTHY, "series": NEW_SERIES, "times": [1.0]})
    padded = (predict_body[:-1] + " " * BODY_LIMIT + "}").encode()
    _check_413(client.post("/predict", content=padded, headers=headers), settings, redis_client)


def test_streamed_body_over_the_limit_is_413(
    body_limited: tuple, settings: Settings, redis_client: redis.Redis
) -> None:
    """A chunked upload has no Content-Length: the middleware must count the bytes as they come."""
    client, recorder = body_limited
    data = _fit_text(3 * BODY_LIMIT)
    response = client.post(
        "/fit", content=_chunks(data), headers={"content-type": "application/json"}
    )
    sent = recorder.headers[-1]
    assert "content-length" not in sent, sent
    assert sent.get("transfer-encoding") == b"chunked", sent
    _check_413(response, settings, redis_client)


def test_body_at_the_limit_passes(body_limited: tuple, settings: Settings) -> None:
    client, recorder = body_limited
    headers = {"content-type": "application/json"}
    data = _fit_text(BODY_LIMIT)
    whole = client.post("/fit", content=data, headers=headers)
    assert whole.status_code == 202, whole.text
    streamed = client.post("/fit", content=_chunks(data), headers=headers)
    assert "content-length" not in recorder.headers[-1]
    assert streamed.status_code == 202, streamed.text
    assert len(model_folders(settings.store)) == 2


# -- unknown query parameters, absurd magnitudes -----------------------------------------------


@pytest.mark.parametrize("path", ["/predict", "/predict.png"])
@pytest.mark.parametrize("name", ["colour", "sample", "n_sample", "model"])
def test_unknown_query_parameters_are_named(
    client: TestClient, healthy: str, path: str, name: str
) -> None:
    response = predict(client, healthy, path, t=[1.0], n_samples=2, **{name: "1"})
    error = error_of(response, 422, "invalid_input")
    assert locs(error) == [f"query.{name}"], error
    assert name in error["message"]


@pytest.mark.parametrize("path", ["/predict", "/predict.png"])
@pytest.mark.parametrize(("name", "values"), [("seed", [1, 2]), ("n_samples", [2, 3])])
def test_a_single_valued_query_parameter_given_twice_is_refused(
    client: TestClient, healthy: str, path: str, name: str, values: list[int]
) -> None:
    """The last one had silently won; the lists (t, level, quantiles) still repeat."""
    params = {**({"n_samples": 2} if name != "n_samples" else {}), name: values}
    error = error_of(predict(client, healthy, path, t=[1.0, 2.0], **params), 422, "invalid_input")
    assert locs(error) == [f"query.{name}"], error
    good = predict(client, healthy, path, t=[1.0, 2.0], level=[50, 80], n_samples=2)
    assert good.status_code == 200, good.text


BIG_INT = "1" + "0" * 400  # a JSON integer beyond any float

MAGNITUDES = [
    ("time_1e13", "times", "1e13", Rule.TIME_OUT_OF_RANGE),
    ("time_-1e300", "times", "-1e300", Rule.TIME_OUT_OF_RANGE),
    ("time_huge_integer", "times", BIG_INT, Rule.TIME_OUT_OF_RANGE),
    ("value_1e16", "values", "1e16", Rule.VALUE_OUT_OF_RANGE),
    ("value_-1e300", "values", "-1e300", Rule.VALUE_OUT_OF_RANGE),
    ("value_huge_integer", "values", BIG_INT, Rule.VALUE_OUT_OF_RANGE),
    ("value_-huge_integer", "values", "-" + BIG_INT, Rule.VALUE_OUT_OF_RANGE),
]


def _with_token(body: dict[str, Any], token: str) -> str:
    return json.dumps(body).replace('"@TOKEN@"', token)


@pytest.mark.parametrize(
    ("where", "token", "rule"), [c[1:] for c in MAGNITUDES], ids=[c[0] for c in MAGNITUDES]
)
def test_fit_rejects_absurd_magnitudes(
    client: TestClient, settings: Settings, where: str, token: str, rule: Rule
) -> None:
    series = series_of(2, 5)
    series[1][where][3] = "@TOKEN@"
    response = client.post(
        "/fit",
        content=_with_token({"series": series}, token),
        headers={"content-type": "application/json"},
    )
    error = error_of(response, 422, "invalid_series")
    found = {(d.get("series"), d.get("index"), d.get("rule")) for d in error["details"]}
    assert ("s1", 3, str(rule)) in found, error
    assert "s1[3]" in error["message"], error
    assert model_folders(settings.store) == []


@pytest.mark.parametrize(
    ("where", "token", "rule"), [c[1:] for c in MAGNITUDES], ids=[c[0] for c in MAGNITUDES]
)
def test_post_predict_rejects_absurd_magnitudes(
    client: TestClient, healthy: str, where: str, token: str, rule: Rule
) -> None:
    series = {**NEW_SERIES, where: list(NEW_SERIES[where])}
    series[where][1] = "@TOKEN@"
    body = {"model_id": healthy, "series": series, "times": [1.0], "n_samples": 2}
    text = _with_token(body, token)
    response = client.post("/predict", content=text, headers={"content-type": "application/json"})
    error = error_of(response, 422, "invalid_series")
    assert ("new", 1, str(rule)) in {
        (d.get("series"), d.get("index"), d.get("rule")) for d in error["details"]
    }, error


@pytest.mark.parametrize("token", ["1e13", "-1e300", BIG_INT], ids=["1e13", "-1e300", "huge_int"])
def test_predict_rejects_absurd_requested_times(
    client: TestClient, healthy: str, token: str
) -> None:
    body = {"model_id": healthy, "series": NEW_SERIES, "times": [1.0, "@TOKEN@"], "n_samples": 2}
    response = client.post(
        "/predict", content=_with_token(body, token), headers={"content-type": "application/json"}
    )
    error = error_of(response, 422, "invalid_times")
    assert locs(error) == ["body.times[1]"], error
    error = error_of(predict(client, healthy, t=["1.0", token], n_samples=2), 422, "invalid_times")
    assert locs(error) == ["query.t[1]"], error


# -- API keys ----------------------------------------------------------------------------------

PATH_VALUES = {"job_id": "j-0123456789", "model_id": "m-0123456789", "series_id": "s0"}
OPEN_PATHS = {"/healthz", "/readyz"}


def _request_for(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """Arguments for ``client.request``: path parameters filled, a plausible query and body."""
    url = path.format(**PATH_VALUES)
    kwargs: dict[str, Any] = {"method": method.upper(), "url": url}
    if path.startswith("/predict") and method == "get":
        kwargs["params"] = {"model_id": "m-0123456789", "series_id": "s0", "t": "1"}
    if "requestBody" in operation:
        if path == "/fit":
            kwargs["json"] = {"series": series_of(2, 5)}
        else:
            kwargs["json"] = {"model_id": "m-0123456789", "series": NEW_SERIES, "times": [1.0]}
    return kwargs


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json", headers={"X-API-Key": "k1"}).json()
    found = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]
    # the ones the SPEC names are all there: a route missing from the schema is not tested here
    named = {(path, method) for path, method, _ in found}
    assert {
        ("/fit", "post"),
        ("/jobs/{job_id}", "get"),
        ("/jobs/{job_id}", "delete"),
        ("/models", "get"),
        ("/models/{model_id}", "get"),
        ("/models/{model_id}", "delete"),
        ("/predict", "get"),
        ("/predict", "post"),
        ("/predict.png", "get"),
        ("/metrics", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    } <= named
    return found


@pytest.fixture
def keyed(settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with app_with(settings, api_keys=SecretStr("k1,k2")) as client:
        yield client


def _check_401(response: Any) -> None:
    error = error_of(response, 401, "unauthorized")
    assert "X-API-Key" in response.headers["www-authenticate"], response.headers
    assert "X-API-Key" in error["message"]


def test_every_operation_but_health_needs_a_key(
    keyed: TestClient, settings: Settings, redis_client: redis.Redis
) -> None:
    operations = _operations(keyed)
    guarded = [op for op in operations if op[0] not in OPEN_PATHS]
    assert len(guarded) >= 10
    for path, method, operation in guarded:
        request = _request_for(path, method, operation)
        for headers in ({}, {"X-API-Key": "k3"}, {"X-API-Key": ""}, {"X-API-Key": " k1 "}):
            response = keyed.request(**request, headers=headers)
            assert response.status_code == 401, (path, method, headers, response.text)
            _check_401(response)
    for path, method, operation in operations:
        if path in OPEN_PATHS:
            response = keyed.request(**_request_for(path, method, operation))
            assert response.status_code == 200, (path, response.text)
    assert model_folders(settings.store) == []
    assert waiting_fits(settings.queue, redis_client) == 0


def test_both_keys_work(keyed: TestClient, settings: Settings) -> None:
    fit = keyed.post("/fit", json={"series": series_of(2, 5)}, headers={"X-API-Key": "k2"})
    assert fit.status_code == 202, fit.text
    listed = keyed.get("/models", headers={"X-API-Key": "k1"})
    assert listed.status_code == 200, listed.text
    assert [m["model_id"] for m in listed.json()["models"]] == [fit.json()["model_id"]]
    job = keyed.get(fit.json()["status_url"], headers={"X-API-Key": "k1"})
    assert job.status_code == 200, job.text
    assert keyed.get("/metrics", headers={"X-API-Key": "k2"}).status_code == 200


def test_keys_are_checked_before_the_body_is_read(keyed: TestClient, settings: Settings) -> None:
    """Without a key, nothing about the body matters: a body that is not JSON gets 401 too."""
    for content in (b'{"series": [', b"\xff\xfe", b"[1, 2]"):
        response = keyed.post("/fit", content=content, headers={"content-type": "application/json"})
        _check_401(response)
    assert model_folders(settings.store) == []


def test_keys_with_spaces_in_the_setting_are_trimmed(settings: Settings) -> None:
    with app_with(settings, api_keys=SecretStr(" k1 , ,k2,")) as client:
        assert client.get("/models", headers={"X-API-Key": "k1"}).status_code == 200
        assert client.get("/models", headers={"X-API-Key": "k2"}).status_code == 200
        _check_401(client.get("/models", headers={"X-API-Key": ""}))
        _check_401(client.get("/models"))


def test_the_console_opens_without_a_key_and_reaches_nothing_else(keyed: TestClient) -> None:
    """The console's page and files need no key; no path under ``/console/`` reaches a route
    or a file outside its folder."""
    page = keyed.get("/")
    assert page.status_code == 200 and "<title>odecast console</title>" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    script = keyed.get("/console/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    for path in (
        "/console/%2e%2e/models",
        "/console/..%2fmodels",
        "/console/%2e%2e/%2e%2e/pyproject.toml",
        "/console//etc/passwd",
        "/console/",
        "/console/js/",
        "/console/nothing.js",
    ):
        response = keyed.get(path)
        assert response.status_code == 404, (path, response.status_code, response.text[:200])
        assert b"models" not in response.content and b"[project]" not in response.content, path
    _check_401(keyed.get("/models"))


def test_openapi_declares_the_key(keyed: TestClient) -> None:
    assert keyed.get("/openapi.json").status_code == 401  # the docs need the key too
    schema = keyed.get("/openapi.json", headers={"X-API-Key": "k1"}).json()
    schemes = schema["components"]["securitySchemes"]
    named = [
        name
        for name, scheme in schemes.items()
        if scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    ]
    assert named, schemes
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            required = {name for entry in operation.get("security", []) for name in entry}
            if path in OPEN_PATHS:
                assert not required, (path, method)
            else:
                assert required & set(named), (path, method, operation.get("security"))
                assert "401" in operation["responses"], (path, method)


LEAK_KEYS = ("odecast-test-key-Zq8LmX3vWp", "odecast-test-key-Rt5Kd2NyQs")
WRONG_KEY = "odecast-wrong-key-Hx7Jc4BfTa"


def _redis_values(connection: redis.Redis) -> Iterator[tuple[bytes, bytes]]:
    """Every key of the database and each value stored under it."""
    for key in connection.scan_iter(count=1000):
        kind = connection.type(key)
        if kind == b"string":
            values = [connection.get(key)]
        elif kind == b"hash":
            values = [v for pair in connection.hgetall(key).items() for v in pair]
        elif kind == b"list":
            values = connection.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(connection.smembers(key))
        elif kind == b"zset":
            values = connection.zrange(key, 0, -1)
        elif kind == b"stream":
            values = [
                v for _, fields in connection.xrange(key) for pair in fields.items() for v in pair
            ]
        else:
            values = []
        yield key, key
        for value in values:
            if value is not None:
                yield key, value


def _readable_forms(value: bytes) -> list[bytes]:
    """The bytes as stored, and decompressed or base64-decoded when they are (RQ does both)."""
    forms = [value]
    with contextlib.suppress(zlib.error):
        forms.append(zlib.decompress(value))
    with contextlib.suppress(binascii.Error, ValueError):
        forms.append(base64.b64decode(value, validate=True))
    return forms


def test_keys_never_reach_logs_redis_or_the_store(
    settings: Settings,
    redis_client: redis.Redis,
    run_worker: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    keys = ",".join(LEAK_KEYS)
    # the worker's jobs read their settings from the environment: give them the keys too
    monkeypatch.setenv("ODECAST_API_KEYS", keys)
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    good = {"X-API-Key": LEAK_KEYS[1]}
    with app_with(settings, api_keys=SecretStr(keys)) as client:
        body = {"series": make_series(), "model": SMALL_MODEL, "training": FAST_TRAINING}
        fit = client.post("/fit", json=body, headers={**good, "Idempotency-Key": "leak-1"})
        assert fit.status_code == 202, fit.text
        model_id, job_id = fit.json()["model_id"], fit.json()["job_id"]
        assert client.get(f"/jobs/{job_id}", headers=good).status_code == 200
        assert client.get("/models", headers=good).status_code == 200
        assert client.get("/models", headers={"X-API-Key": WRONG_KEY}).status_code == 401
        assert client.get("/metrics", headers={"X-API-Key": LEAK_KEYS[0]}).status_code == 200
        bad = client.post("/fit", json={"series": [], "colour": 1}, headers=good)
        assert bad.status_code == 422
        assert predict(client, "m-nothere", t=[1.0]).status_code == 401
        response = client.get("/predict", params={"model_id": "m-nothere"}, headers=good)
        assert response.status_code == 422
        assert client.delete("/jobs/j-nothere", headers=good).status_code == 404
        run_worker()
        assert client.get(f"/models/{model_id}", headers=good).json()["status"] == "ready"
        params = {"model_id": model_id, "series_id": "s0", "t": 1.0, "n_samples": 2}
        answer = client.get("/predict", params=params, headers=good)
        assert answer.status_code == 200, answer.text
        assert client.get(f"/jobs/{job_id}", headers=good).json()["status"] == "succeeded"
    logged = caplog.text + "".join(capfd.readouterr())
    assert caplog.records, "nothing was logged: the check would be empty"
    secrets = [k.encode() for k in (*LEAK_KEYS, WRONG_KEY)]
    for secret in secrets:
        assert secret.decode() not in logged
    stored = list(_redis_values(redis_client))
    assert any(job_id.encode() in key for key, _ in stored), "the job is not in Redis"
    for key, value in stored:
        for form in _readable_forms(value):
            for secret in secrets:
                assert secret not in form, (key, form[:200])
    files = [p for p in Path(settings.store).rglob("*") if p.is_file()]
    assert any(p.name == "model.safetensors" for p in files), files
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, path


# -- ids: nothing outside the store ------------------------------------------------------------

SENTINEL = b'{"model_id": "secret", "status": "ready"}'

# as written in the URL (percent-encoded where a client would have to)
BAD_PATH_IDS = [
    "%2e%2e",
    "%2E%2E%2Fsecret",
    "..%2Fsecret",
    "..%2Fsecret.json",
    "..%2F..%2Fevil",
    "..%5C..%5Cevil",
    "a%2Fb",
    "%00",
    "m-1%00",
    "a" * 65,
    "%C3%A9",
    "m%E2%80%AE1",
    "%20",
    "..",
]


@pytest.fixture
def outside(settings: Settings, trained_store: dict) -> dict[str, Path]:
    """A sentinel file next to the store, and a whole trained model folder two levels up from
    the models folder, where ``models/../../evil`` would reach it."""
    store = Path(settings.store)
    store.mkdir(parents=True, exist_ok=True)
    secret = store.parent / "secret.json"
    secret.write_bytes(SENTINEL)
    evil = store.parent / "evil"
    shutil.copytree(trained_store["folder"], evil)
    return {"secret": secret, "evil": evil}


def _outside_untouched(outside: dict[str, Path], evil_files: dict[str, bytes]) -> None:
    assert outside["secret"].read_bytes() == SENTINEL
    now = {str(p): p.read_bytes() for p in outside["evil"].rglob("*") if p.is_file()}
    assert now == evil_files


def _no_leak(response: Any, outside: dict[str, Path]) -> None:
    """Nothing read from outside the store is in ``response``: neither the sentinel nor the id
    recorded in the outside model's record (the models inside have ids of their own)."""
    assert response.status_code < 500, response.text
    assert response.status_code not in (200, 202, 204), response.text
    assert SENTINEL not in response.content
    outside_id = json.loads((outside["evil"] / "record.json").read_text())["model_id"]
    assert outside_id.encode() not in response.content, response.text


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/models/{}"),
        ("DELETE", "/models/{}"),
        ("GET", "/jobs/{}"),
        ("DELETE", "/jobs/{}"),
    ],
)
def test_bad_path_ids_stay_in_the_store(
    client: TestClient,
    healthy: str,
    outside: dict[str, Path],
    method: str,
    template: str,
) -> None:
    evil_files = {str(p): p.read_bytes() for p in outside["evil"].rglob("*") if p.is_file()}
    for bad in BAD_PATH_IDS:
        response = client.request(method, template.format(bad))
        if response.request.url.path == "/":  # the client resolved "x/..": the console's page
            assert response.status_code == (200 if method == "GET" else 405), response.text
            assert SENTINEL not in response.content
            continue
        assert response.status_code in (404, 422), (bad, response.status_code, response.text)
        _no_leak(response, outside)
        if response.status_code == 422:
            error_of(response, 422, "invalid_input")
    # the encoded dots really went out encoded (httpx did not resolve them)
    sent = client.request(method, template.format("%2e%2e")).request.url.raw_path
    assert sent.lower().endswith(b"/%2e%2e"), sent
    _outside_untouched(outside, evil_files)
    assert client.get(f"/models/{healthy}").status_code == 200


BAD_QUERY_IDS = ["../secret", "../../evil", "..", "a/b", "a\\b", "\x00", "m-1\x00", "a" * 65, "é"]


@pytest.mark.parametrize("name", ["model_id", "series_id"])
@pytest.mark.parametrize("path", ["/predict", "/predict.png"])
def test_bad_query_ids_are_rejected(
    client: TestClient, healthy: str, outside: dict[str, Path], name: str, path: str
) -> None:
    evil_files = {str(p): p.read_bytes() for p in outside["evil"].rglob("*") if p.is_file()}
    for bad in BAD_QUERY_IDS:
        params = {"model_id": healthy, "series_id": "s0", "t": [1.0], name: bad}
        response = client.get(path, params=params)
        _no_leak(response, outside)
        error = error_of(response, 422, "invalid_input")
        assert f"query.{name}" in locs(error), (bad, error)
    body = {"model_id": "../../evil", "series": NEW_SERIES, "times": [1.0]}
    error = error_of(client.post("/predict", json=body), 422, "invalid_input")
    assert "body.model_id" in locs(error)
    _outside_untouched(outside, evil_files)


# -- damaged model files -----------------------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_meta(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Change the caller's ``meta`` inside trained/meta.json (the tensor files still match)."""

    def damage(folder: Path) -> None:
        path = folder / "trained" / "meta.json"
        record = json.loads(path.read_text())
        change(record["meta"])
        path.write_text(json.dumps(record))

    return damage


def _meta_json(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """``damage`` to trained/meta.json, which the API reads only when the model's record keeps
    no copy of it (as records written before that copy existed): drop the copy too."""

    def damage_and_forget_the_copy(folder: Path) -> None:
        damage(folder)
        record = json.loads((folder / "record.json").read_text())
        assert record.pop("checkpoint_manifest") is not None
        (folder / "record.json").write_text(json.dumps(record))

    return damage_and_forget_the_copy


# (name, damage to the model folder, the 409 codes allowed, whether its record stays readable)
DAMAGES: list[tuple[str, Callable[[Path], None], set[str], bool]] = [
    (
        "truncated_weights",
        lambda f: _truncate(f / "trained" / "model.safetensors"),
        {"model_unreadable"},
        True,
    ),
    (
        "empty_weights",
        lambda f: (f / "trained" / "model.safetensors").write_bytes(b""),
        {"model_unreadable"},
        True,
    ),
    (
        "flipped_weights",
        lambda f: _flip(f / "trained" / "model.safetensors"),
        {"model_unreadable"},
        True,
    ),
    (
        "meta_garbage",
        _meta_json(lambda f: (f / "trained" / "meta.json").write_bytes(b"\x00garbage{")),
        {"model_unreadable"},
        True,
    ),
    (
        "meta_truncated",
        _meta_json(lambda f: _truncate(f / "trained" / "meta.json")),
        {"model_unreadable"},
        True,
    ),
    (
        "meta_missing",
        _meta_json(lambda f: (f / "trained" / "meta.json").unlink()),
        {"model_unreadable", "model_not_ready"},
        True,
    ),
    (
        "meta_config_not_an_object",
        _meta_json(_edit_meta(lambda meta: meta.update(config=[1, 2]))),
        {"model_unreadable"},
        True,
    ),
    (
        "meta_dims_wrong",
        _meta_json(_edit_meta(lambda meta: meta.update(dims=meta["dims"] + 1))),
        {"model_unreadable"},
        True,
    ),
    (
        "dataset_garbage",
        lambda f: (f / "dataset.json").write_bytes(b"not json at all"),
        {"model_unreadable"},
        True,
    ),
    (
        "dataset_truncated",
        lambda f: _truncate(f / "dataset.json"),
        {"model_unreadable"},
        True,
    ),
    (
        "record_garbage",
        lambda f: (f / "record.json").write_bytes(b"{garbage"),
        {"model_unreadable"},
        False,
    ),
    (
        "record_not_a_model",
        lambda f: (f / "record.json").write_text(json.dumps({"model_id": DAMAGED})),
        {"model_unreadable"},
        False,
    ),
    (
        "trained_deleted",
        lambda f: shutil.rmtree(f / "trained"),
        {"model_not_ready"},
        True,
    ),
]


@pytest.mark.parametrize(
    ("damage", "codes", "record_readable"),
    [c[1:] for c in DAMAGES],
    ids=[c[0] for c in DAMAGES],
)
def test_a_damaged_model_answers_409_and_the_others_keep_serving(
    client: TestClient,
    settings: Settings,
    trained_store: dict,
    healthy: str,
    damage: Callable[[Path], None],
    codes: set[str],
    record_readable: bool,
) -> None:
    damage(install(settings, trained_store, DAMAGED))
    store_paths = {str(settings.store), str(Path(settings.store).resolve())}
    body = {"model_id": DAMAGED, "series": NEW_SERIES, "times": [1.0], "n_samples": 2}
    for _ in range(2):  # the second time too (nothing half-loaded is cached)
        for response in (
            predict(client, DAMAGED, t=[1.0], n_samples=2),
            predict(client, DAMAGED, "/predict.png", t=[1.0], n_samples=2),
            client.post("/predict", json=body),
        ):
            error = error_of(response, 409)
            assert error["code"] in codes, error
            assert DAMAGED in error["message"], error
            assert not any(p in response.text for p in store_paths), error
        good = predict(client, HEALTHY, t=[1.0, 12.0], n_samples=2)
        assert good.status_code == 200, good.text
        good = client.post("/predict", json={**body, "model_id": HEALTHY})
        assert good.status_code == 200, good.text
        assert predict(client, HEALTHY, "/predict.png", t=[1.0], n_samples=2).status_code == 200
    listed = client.get("/models")
    assert listed.status_code == 200, listed.text
    listed_ids = {m["model_id"] for m in listed.json()["models"]}
    assert HEALTHY in listed_ids
    one = client.get(f"/models/{DAMAGED}")
    if record_readable:
        assert DAMAGED in listed_ids
        assert one.status_code == 200, one.text
    else:
        assert DAMAGED not in listed_ids
        error = error_of(one, 409, "model_unreadable")
        assert not any(p in one.text for p in store_paths), error
    assert client.get(f"/models/{HEALTHY}").status_code == 200
    # and the damaged one can still be deleted, to fit again
    assert client.delete(f"/models/{DAMAGED}").status_code == 204
    assert model_folders(settings.store) == [HEALTHY]


def test_a_model_whose_record_keeps_its_manifest_serves_without_meta_json(
    client: TestClient, settings: Settings, trained_store: dict
) -> None:
    """The weights are checked against the record's copy of meta.json, so a lost meta.json does
    not stop a model whose files are whole from serving."""
    folder = install(settings, trained_store, DAMAGED)
    (folder / "trained" / "meta.json").write_bytes(b"\x00garbage{")
    assert predict(client, DAMAGED, t=[1.0], n_samples=2).status_code == 200
    _flip(folder / "trained" / "model.safetensors")
    client.app.state.model_cache.forget(DAMAGED)
    assert error_of(predict(client, DAMAGED, t=[1.0], n_samples=2), 409)["code"] == (
        "model_unreadable"
    )


@pytest.mark.parametrize("edit", ["dims", "nan_lost"])
def test_a_record_copy_that_does_not_describe_the_weights_defers_to_meta_json(
    client: TestClient, settings: Settings, trained_store: dict, edit: str
) -> None:
    """A record's JSON turns NaN (a dimension never observed) into null, and a record can be
    edited: the copy then fails to build the model, and meta.json, intact, serves it."""
    folder = install(settings, trained_store, DAMAGED)
    record = json.loads((folder / "record.json").read_text())
    meta = record["checkpoint_manifest"]["meta"]
    if edit == "dims":
        meta["dims"] += 1
    else:
        meta["normaliser"]["mean"] = [None] * len(meta["normaliser"]["mean"])
    (folder / "record.json").write_text(json.dumps(record))
    assert predict(client, DAMAGED, t=[1.0], n_samples=2).status_code == 200


# -- no pickle ---------------------------------------------------------------------------------

PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle", "shelve"}
SOURCE_DIRS = ("models", "service", "worker")


def _sources() -> list[Path]:
    files = sorted(p for d in SOURCE_DIRS for p in (PROJECT / d).rglob("*.py"))
    assert len(files) > 20, files
    return files


UNPICKLING_CALLS = {
    "torch.load",
    "marshal.load",
    "marshal.loads",
    "pickle.load",
    "pickle.loads",
    "np.load",
    "numpy.load",
    "pd.read_pickle",
    "pandas.read_pickle",
}


def _dotted(node: ast.expr) -> str:
    """``a.b.c`` for an attribute chain on a name, else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _unsafe_keyword(node: ast.keyword) -> bool:
    """``allow_pickle=...`` (numpy) or ``weights_only=False`` (torch)."""
    if node.arg == "allow_pickle":
        return True
    return (
        node.arg == "weights_only"
        and isinstance(node.value, ast.Constant)
        and node.value.value is False
    )


def _pickle_uses(source: str) -> list[str]:
    """Imports of pickling modules and calls that unpickle, in Python source (not its text)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in PICKLING_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in PICKLING_MODULES or module == "marshal":
                found.append(module)
            if module == "torch" and any(a.name == "load" for a in node.names):
                found.append("from torch import load")
            if module.startswith("rq.serializers") and any(
                a.name in {"DefaultSerializer", "PickleSerializer"} for a in node.names
            ):
                found.append("rq pickle serializer")
        elif isinstance(node, ast.Attribute) and _dotted(node) in UNPICKLING_CALLS:
            found.append(_dotted(node))
        elif isinstance(node, ast.keyword) and _unsafe_keyword(node):
            found.append(f"{node.arg}=")
    return found


def test_pickle_detector_finds_what_it_should() -> None:
    assert _pickle_uses('"""never unpickle: no pickle.load here"""\n# import pickle\n') == []
    for code in (
        "import pickle",
        "import dill as d",
        "from joblib import load",
        "import torch\ntorch.load('x')",
        "from torch import load",
        "import marshal\nmarshal.loads(b'')",
        "import numpy as np\nnp.load('x', allow_pickle=True)",
        "from rq.serializers import DefaultSerializer",
    ):
        assert _pickle_uses(code), code
    assert _pickle_uses("import safetensors.torch\nsafetensors.torch.load(b'')") == []


def test_no_source_file_unpickles() -> None:
    uses = {str(p.relative_to(PROJECT)): _pickle_uses(p.read_text()) for p in _sources()}
    assert {path: found for path, found in uses.items() if found} == {}


def test_every_rq_queue_and_job_uses_the_json_serializer() -> None:
    """Every ``Queue(``, ``Job.fetch(``, ``Worker(``... in the code names a serializer."""
    rq_names = {"Queue", "Worker", "SimpleWorker", "TrainingWorker", "fetch", "fetch_many"}
    missing = []
    calls = 0
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in rq_names:
                continue
            calls += 1
            serializer = next((k.value for k in node.keywords if k.arg == "serializer"), None)
            if not (isinstance(serializer, ast.Name) and serializer.id == "JSONSerializer"):
                missing.append(f"{path.relative_to(PROJECT)}:{node.lineno}")
    assert calls >= 3
    assert missing == []


def test_queued_jobs_are_stored_as_json(client: TestClient, redis_client: redis.Redis) -> None:
    answer = client.post("/fit", json={"series": series_of(2, 5)})
    assert answer.status_code == 202, answer.text
    job_id, model_id = answer.json()["job_id"], answer.json()["model_id"]
    stored = redis_client.hgetall(f"rq:job:{job_id}")
    assert stored, "no job hash in Redis"
    data = zlib.decompress(stored[b"data"])  # RQ compresses the serialised call
    assert not data.startswith(b"\x80"), data[:20]  # a pickle's protocol marker
    call = json.loads(data)
    assert model_id in json.dumps(call)
    assert json.loads(stored[b"meta"])["model_id"] == model_id


def test_levels_and_quantiles_that_differ_get_keys_that_differ(
    client: TestClient, healthy: str
) -> None:
    """Keys were the 12-digit form: 50 and 50.0000000000001 shared "50" (one answer lost),
    99.99999999999999 read "100", and a quantile -0.0 came back as "-0"."""
    levels = [50.0, 50.0000000000001, 99.99999999999999]
    intervals = predict(client, healthy, t=[1.0], n_samples=2, level=levels).json()["intervals"]
    assert sorted(intervals) == ["50", "50.0000000000001", "99.99999999999999"]
    quantiles = predict(client, healthy, t=[1.0], n_samples=2, quantiles=[-0.0, 0.5]).json()
    assert sorted(quantiles["quantiles"]) == ["0", "0.5"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_store_disk_is_503_and_the_connection_stays(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The disk under a local store fills up or turns read-only (a fault injected where the
    store writes its files): 503 store_unavailable with Retry-After, not a 500 after which
    uvicorn dropped the connection."""
    import models.store.local as local

    def no_room(path: Any, data: bytes) -> None:
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(local, "write_atomic", no_room)
    answer = client.post("/fit", json={"series": series_of(2, 12)})
    error = error_of(answer, 503, "store_unavailable")
    assert answer.headers["retry-after"] and "try again" in error["message"]
    assert client.get("/healthz").status_code == 200  # the same client, the same connection
