"""Contract fuzzing: schemathesis generates requests from the app's own OpenAPI schema and checks
that no answer is a 5xx and that every answer matches the schema (status code documented, content
type and body as declared).

The store holds one trained model (trained once for the module) and one model whose job is still
queued, and the generated ``model_id``, ``series_id`` and ``job_id`` values are swapped for theirs
often, so /predict, /models and /jobs are exercised beyond 404 (200, 204, 409 too). Generation
is bounded and deterministic (fixed seed, no example database) so that it fits ``make test``.

The schema is loaded at import with ``schema.parametrize()`` (one test per operation), not from a
fixture: ``schemathesis.pytest.from_fixture`` fails on pytest 9.2 (it uses ``Node._nodeid``, which
pytest 9.2 no longer has). Requests go to the fixture's app in-process (``call(app=...)``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from stack_helpers import (
    FAST_TRAINING,
    SMALL_MODEL,
    make_series,
    train_once,
)

from service.app import create_app
from service.settings import Settings

MAX_EXAMPLES = 30
# The seeded model's solver gives up after 200 steps (the API takes 10 to 1e6; the default,
# 10,000, takes seconds per far extrapolation): far times cost milliseconds here.
MODEL = {**SMALL_MODEL, "max_steps": 200}
SEED = 20240301
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # The same examples on every run: a fixed seed, and no example database to replay from.
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # A failure is reported as found: shrinking it would re-send requests for a minute.
            "no-shrink": True,
        },
    }
)


# -- the store: one trained model, one queued ---------------------------------------------------


@pytest.fixture(scope="module")
def trained_model(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small numeric 1-D model trained through POST /fit and an in-process worker, once for the
    module."""
    root = tmp_path_factory.mktemp("contract") / "store"
    series = make_series()
    body = {"series": series, "model": MODEL, "training": FAST_TRAINING}
    model_id = train_once(redis_url, root, {"model": body})["model"]
    return {
        "folder": root / "models" / model_id,
        "model_id": model_id,
        "series_ids": [s["id"] for s in series],
    }


class Seeded:
    """The ids the hooks hand out, and the model folders to put back when a fuzzed DELETE
    removed them (operations run one after the other on the same store)."""

    def __init__(self, store: Path, trained: dict, queued: dict) -> None:
        self.models = store / "models"
        self.model_id = trained["model_id"]
        self.series_ids = trained["series_ids"]
        self.queued_model_id = queued["model_id"]
        self.job_id = queued["job_id"]
        self._copies = {self.model_id: trained["folder"]}
        backup = store.parent / "contract-backup"
        shutil.copytree(self.models / self.queued_model_id, backup / self.queued_model_id)
        self._copies[self.queued_model_id] = backup / self.queued_model_id

    def restore(self) -> None:
        for model_id, source in self._copies.items():
            if not (self.models / model_id).exists():
                shutil.copytree(source, self.models / model_id)


SEEDED: Seeded | None = None


@pytest.fixture
def seeded(settings: Settings, redis_client: redis.Redis, trained_model: dict) -> Iterator[Seeded]:
    """This test's store with the trained model copied in, and a model whose job stays queued
    (no worker runs)."""
    global SEEDED
    store = Path(settings.store)
    shutil.copytree(trained_model["folder"], store / "models" / trained_model["model_id"])
    with TestClient(create_app(settings)) as client:
        body = {"series": make_series(2, 5), "model": SMALL_MODEL, "training": FAST_TRAINING}
        answer = client.post("/fit", json=body)
        assert answer.status_code == 202, answer.text
    SEEDED = Seeded(store, trained_model, answer.json())
    yield SEEDED
    SEEDED = None


@pytest.fixture
def app(settings: Settings, seeded: Seeded) -> Any:
    """The app on the seeded store. Schemathesis runs its lifespan on the first request and ends
    it when the test ends (its pytest plugin's teardown), before the fixtures' own teardown."""
    return create_app(settings)


# The schema the app serves at /openapi.json (building it needs no store, Redis or lifespan).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi(), config=CONFIG)


# -- hooks: make some of the generated requests name the seeded models -------------------------
#
# Each hook draws how far to go: 0 keeps the generated request as it is, 1 swaps in a seeded id,
# 2 also gives times (and a series) that the numeric model reads, 3 sends only those (a valid
# request, so that predictions get answered with 200 too).
#
# Schemathesis draws the explicit examples (the schema's own) at collection, before any fixture
# ran: those keep their values. The fuzzed and coverage examples are drawn while the test runs.

# Times as numbers: inside and around the training range (0-10), and far out (the API takes
# times up to +-1e12).
_TIME = st.one_of(
    st.floats(-20.0, 30.0, allow_nan=False),
    st.sampled_from([-1e12, -1e6, 1e4, 1e6, 1e9, 1e12]),
)
_TIME_KEYS = ("t", "times", "start", "stop", "num")
# Half of the requests to the prediction endpoints are valid ones, for the seeded model mostly.
_HOW_FAR = (0, 1, 2, 3, 3, 3)


def _query_times() -> st.SearchStrategy[dict[str, Any]]:
    """The three ways GET /predict takes times: repeated t=, one times= list, a grid."""
    listed = st.lists(_TIME.map(str), min_size=1, max_size=6)
    return st.one_of(
        listed.map(lambda ts: {"t": ts}),
        listed.map(lambda ts: {"times": ",".join(ts)}),
        st.tuples(_TIME, _TIME, st.integers(1, 40)).map(
            lambda g: {"start": str(min(g[:2])), "stop": str(max(g[:2]) + 1.0), "num": g[2]}
        ),
    )


def _series() -> st.SearchStrategy[dict[str, Any]]:
    """A 1-D numeric series the model can read as its context."""
    return st.integers(1, 6).flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "id": st.just("new-series"),
                "times": st.lists(_TIME, min_size=n, max_size=n, unique=True),
                "values": st.lists(st.floats(-5.0, 5.0), min_size=n, max_size=n),
            }
        )
    )


def _without(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    seeded = SEEDED
    if seeded is None or not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    if "model_id" in path_parameters:
        ids = st.sampled_from([seeded.model_id, seeded.queued_model_id])
        swapped = ids.map(lambda v: {**path_parameters, "model_id": v})
        return st.one_of(st.just(path_parameters), swapped)
    if "job_id" in path_parameters:
        return st.sampled_from([path_parameters, {**path_parameters, "job_id": seeded.job_id}])
    return st.just(path_parameters)


@schema.hook
def flatmap_query(context: Any, query: Any) -> Any:
    seeded = SEEDED
    if seeded is None or not isinstance(query, dict) or "series_id" not in query:
        return st.just(query)

    def sensible(how_far: int) -> st.SearchStrategy[dict[str, Any]]:
        if how_far == 0:
            return st.just(query)
        ids = st.fixed_dictionaries(
            {
                "model_id": st.sampled_from([seeded.model_id] * 3 + [seeded.queued_model_id]),
                "series_id": st.sampled_from([*seeded.series_ids, "not-a-series"]),
            }
        )
        if how_far == 1:
            return ids.map(lambda v: {**query, **v})
        kept = _without(query, _TIME_KEYS) if how_far == 2 else {}
        return st.tuples(ids, _query_times()).map(lambda v: {**kept, **v[0], **v[1]})

    return st.sampled_from(_HOW_FAR).flatmap(sensible)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    seeded = SEEDED
    if seeded is None or not isinstance(body, dict) or "model_id" not in body:
        return st.just(body)  # only POST /predict's body names a model

    def sensible(how_far: int) -> st.SearchStrategy[Any]:
        if how_far == 0:
            return st.just(body)
        named = {**body, "model_id": seeded.model_id}
        if how_far == 1:
            return st.just(named)
        kept = named if how_far == 2 else {"model_id": seeded.model_id}
        times = st.lists(_TIME, min_size=1, max_size=6)
        return st.tuples(_series(), times).map(lambda v: {**kept, "series": v[0], "times": v[1]})

    return st.sampled_from(_HOW_FAR).flatmap(sensible)


# -- the test ---------------------------------------------------------------------------------


@schema.parametrize()
# The fixtures hold the store, Redis and the app for all of an operation's examples, on purpose.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_contract(case: schemathesis.Case, app: Any, seeded: Seeded) -> None:
    """No 5xx, and every answer is documented: status code, content type and body schema."""
    seeded.restore()
    case.call_and_validate(app=app, checks=CHECKS)
