"""Request metrics: every request counted by method, route template and status, and timed; the
routes' dependencies never take a thread."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.auth import require_api_key
from service.deps import BatcherDep, ModelCacheDep, RedisDep, SettingsDep, StoreDep
from service.routes.predict import QueryDep
from service.settings import Settings


def _count(text: str, method: str, route: str, status: str) -> float:
    labels = f'method="{method}",route="{re.escape(route)}",status="{status}"'
    found = re.search(rf"^odecast_http_requests_total\{{{labels}\}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def failing_client(settings: Settings, redis_client: object) -> Iterator[TestClient]:
    """The app with one more route that raises: an exception no handler turns into an answer."""
    app = create_app(settings)

    def explode() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_statuses_and_route_templates_are_counted(client: TestClient) -> None:
    for _ in range(2):
        assert client.get("/models/no-such-model").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert client.get("/predict", params={"model_id": "m"}).status_code == 422
    text = client.get("/metrics").text
    assert _count(text, "GET", "/models/{model_id}", "404") == 2.0
    assert _count(text, "GET", "unmatched", "404") == 1.0
    assert _count(text, "GET", "/predict", "422") == 1.0
    timed = 'odecast_http_request_duration_seconds_count{method="GET",route="/models/{model_id}"}'
    assert f"{timed} 2.0\n" in text


def test_an_exception_in_a_route_counts_as_a_500(failing_client: TestClient) -> None:
    assert failing_client.get("/explode").status_code == 500
    assert _count(failing_client.get("/metrics").text, "GET", "/explode", "500") == 1.0


@pytest.mark.parametrize(
    "alias", [SettingsDep, StoreDep, RedisDep, ModelCacheDep, BatcherDep, QueryDep]
)
def test_dependencies_are_coroutines(alias: object) -> None:
    # FastAPI runs a plain ``def`` dependency in its thread pool: a thread hop per dependency
    # per request, which under load cost more than the prediction itself (bench/serving.py).
    depends = get_args(alias)[1]
    assert inspect.iscoroutinefunction(depends.dependency)


def test_the_api_key_check_is_a_coroutine() -> None:
    assert inspect.iscoroutinefunction(require_api_key)


def test_requests_refused_before_routing_are_counted(
    settings: Settings, redis_client: object
) -> None:
    """No key (401) and a body over the limit (413): refused by middleware, counted all the
    same, under route "unmatched"."""
    update = {"api_keys": SecretStr("secret"), "max_body_bytes": 2048}
    keyed = settings.model_copy(update=update)
    with TestClient(create_app(keyed)) as client:
        assert client.get("/models").status_code == 401
        big = client.post("/fit", content=b"x" * 4096, headers={"X-API-Key": "secret"})
        assert big.status_code == 413
        text = client.get("/metrics", headers={"X-API-Key": "secret"}).text
    assert _count(text, "GET", "unmatched", "401") == 1.0
    assert _count(text, "POST", "unmatched", "413") == 1.0
