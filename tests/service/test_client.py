"""The Python client (``service.client``) against the real stack: the API served by uvicorn in a
subprocess (``odecast api``) on the test's Redis and store, training done by a real RQ worker in
this process. Retries are checked against a small scripted HTTP server of the test's own, and a
port with nothing listening.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stack_helpers import FAST_TRAINING, SMALL_MODEL, make_series, wait_healthy

from service.client import (
    ApiError,
    Client,
    ClientError,
    FitAccepted,
    Job,
    Model,
    Prediction,
    PredictionBatch,
    ServerUnavailable,
    series_payload,
)
from service.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STARTUP_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------- the stack


@contextlib.contextmanager
def running_api(log: Path, **extra_env: str) -> Iterator[str]:
    """``odecast api`` on a free port with this process's ODECAST_* settings (the ``settings``
    fixture put them in os.environ); yields its base URL."""
    port = free_port()
    env = os.environ.copy()
    env.pop("ODECAST_API_KEYS", None)
    env.update(extra_env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "api", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_healthy(port, process, STARTUP_TIMEOUT_S)
        except AssertionError as err:
            raise AssertionError(f"{err}\n--- api log ---\n{log.read_text()}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def api(settings, redis_client, tmp_path: Path) -> Iterator[str]:
    with running_api(tmp_path / "api.log") as url:
        yield url


def train(client: Client, run_worker, series: Any, **fit_args: Any) -> tuple[FitAccepted, Job]:
    """Fit through the client, train with an in-process worker, wait for the job."""
    fit_args = {"model": SMALL_MODEL, "training": FAST_TRAINING, **fit_args}
    fitted = client.fit(series, **fit_args)
    run_worker()
    job = client.wait(fitted.job_id, progress=False, poll_s=0.05, timeout_s=30)
    assert job.status == "succeeded", job
    return fitted, job


# --------------------------------------------------------------------------- fit, jobs, registry


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_a_line_every_few_seconds_and_the_last() -> None:
    from service.client import _ProgressOutput

    log = io.StringIO()
    out = _ProgressOutput(log)
    for epoch in range(1, 50):  # many changes within a few milliseconds
        out.show(f"running epoch {epoch}/50", final=False)
    out.show("succeeded epoch 50/50", final=True)
    out.close()
    assert log.getvalue() == "running epoch 1/50\nsucceeded epoch 50/50\n"


def test_fit_from_dicts_wait_with_a_progress_bar_and_the_registry(api: str, run_worker) -> None:
    series = make_series()
    with Client(api) as client:
        fitted = client.fit(series, model=SMALL_MODEL, training=FAST_TRAINING, name="dicts")
        assert isinstance(fitted, FitAccepted)
        assert fitted.status_url == f"/jobs/{fitted.job_id}"
        uuid.UUID(fitted.idempotency_key)  # generated: a uuid4

        # The same key and body answer the same job (what makes a retried fit safe).
        again = client.fit(
            series,
            model=SMALL_MODEL,
            training=FAST_TRAINING,
            name="dicts",
            idempotency_key=fitted.idempotency_key,
        )
        assert (again.job_id, again.model_id) == (fitted.job_id, fitted.model_id)

        queued = client.job(fitted.job_id)
        assert (queued.status, queued.done, queued.model_id) == ("queued", False, fitted.model_id)
        with pytest.raises(TimeoutError, match="still queued"):
            client.wait(fitted.job_id, progress=False, poll_s=0.05, timeout_s=0.3)

        # A second job, cancelled while queued.
        doomed = client.fit(make_series(seed=1), model=SMALL_MODEL, training=FAST_TRAINING)
        cancelled = client.cancel(doomed.job_id)
        assert (cancelled.status, cancelled.done) == ("cancelled", True)
        listed = client.jobs()
        assert [j.job_id for j in listed] == [doomed.job_id, fitted.job_id]  # newest first
        assert all(isinstance(j, Job) for j in listed)

        run_worker()
        stream = io.StringIO()
        job = client.wait(fitted.job_id, stream=stream, poll_s=0.05)
        assert (job.status, job.done, job.error) == ("succeeded", True, None)
        assert job.progress.epoch == job.progress.epochs == FAST_TRAINING["epochs"]
        assert job.progress.loss is not None and job.created_at and job.ended_at
        logged = stream.getvalue()  # not a terminal: whole lines, no carriage return
        assert "\r" not in logged and logged.endswith("\n")
        last = logged.splitlines()[-1]
        assert "succeeded" in last and f"[{'#' * 24}] 4/4" in last and "loss " in last

        terminal = _Terminal()
        assert client.wait(fitted.job_id, stream=terminal).status == "succeeded"
        bar = terminal.getvalue()
        assert bar.startswith("\r") and bar.endswith("\n") and bar.count("\n") == 1
        assert "succeeded" in bar

        quiet = io.StringIO()
        assert client.wait(fitted.job_id, progress=False, stream=quiet).status == "succeeded"
        assert quiet.getvalue() == ""

        models = {m.model_id: m for m in client.models()}
        assert set(models) == {fitted.model_id, doomed.model_id}
        assert models[doomed.model_id].status == "cancelled"
        model = client.model(fitted.model_id)
        assert isinstance(model, Model) and model == models[fitted.model_id]
        assert (model.status, model.name, model.job_id) == ("ready", "dicts", fitted.job_id)
        assert (model.dims, model.time_kind, model.n_series) == (1, "numeric", 6)
        assert model.series_ids == [s["id"] for s in series]
        assert model.config["model"]["latent_dim"] == SMALL_MODEL["latent_dim"]
        assert model.checkpoint_version is not None and model.trained_at
        assert model.raw["model_id"] == fitted.model_id

        assert client.delete_model(fitted.model_id) is None
        with pytest.raises(ApiError) as missing:
            client.model(fitted.model_id)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        assert fitted.model_id in missing.value.message
        assert [m.model_id for m in client.models()] == [doomed.model_id]


def test_predictions_plots_and_errors(api: str, run_worker, tmp_path: Path) -> None:
    import pandas as pd  # a test requirement (dev extra): Prediction.to_frame

    with Client(api) as client:
        fitted, _ = train(client, run_worker, make_series())
        model_id = fitted.model_id

        # GET /predict: times in the order asked, interpolation inside the data, beyond it not.
        asked = [7.125, 2.5, 12.0]
        p = client.predict(model_id, series_id="s0", times=asked, level=90)
        assert isinstance(p, Prediction)
        assert (p.model_id, p.series_id, p.times, p.dims) == (model_id, "s0", asked, 1)
        assert p.kind == ["interpolation", "interpolation", "extrapolation"]
        assert set(p.intervals) == {"90"} and p.quantiles == {}
        lower, upper = p.intervals["90"]
        for i in range(3):
            assert lower[i][0] <= p.mean[i][0] <= upper[i][0]
        rows = p.to_rows()
        assert len(rows) == 3
        assert list(rows[0]) == ["time", "dim", "mean", "lower_90", "upper_90", "kind"]
        assert rows[2] == {
            "time": 12.0,
            "dim": 0,
            "mean": p.mean[2][0],
            "lower_90": lower[2][0],
            "upper_90": upper[2][0],
            "kind": "extrapolation",
        }
        # numpy times: the same request, the same answer (seed 0).
        same = client.predict(model_id, series_id="s0", times=np.array(asked), level=90.0)
        assert same.mean == p.mean and same.intervals == p.intervals

        # A grid and quantiles; several levels.
        g = client.predict(model_id, series_id="s1", grid=(0, 15, 4), quantiles=[0.05, 0.95])
        assert g.times == [0.0, 5.0, 10.0, 15.0] and g.kind[-1] == "extrapolation"
        assert set(g.quantiles) == {"0.05", "0.95"} and g.intervals == {}
        assert list(g.to_rows()[0]) == ["time", "dim", "mean", "q_0.05", "q_0.95", "kind"]
        two = client.predict(model_id, series_id="s1", grid=(0.0, 10.0, 3), level=[50, 90])
        assert set(two.intervals) == {"50", "90"}
        for i in range(3):
            assert two.intervals["90"].lower[i][0] <= two.intervals["50"].lower[i][0]
            assert two.intervals["50"].upper[i][0] <= two.intervals["90"].upper[i][0]
        frame = two.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) == 3
        assert list(frame.columns) == [
            *("time", "dim", "mean", "lower_50", "upper_50", "lower_90", "upper_90", "kind")
        ]

        # POST /predict: a new series, in each form the client takes.
        times = np.array([0.0, 0.7, 1.9, 3.2])
        values = np.array([0.5, 0.3, -0.2, 0.1])
        forms = [
            {"fresh": (times, values)},
            (times, values),
            {"id": "fresh", "times": times.tolist(), "values": [[0.5], [0.3], [-0.2], [0.1]]},
        ]
        answers = [
            client.predict(model_id, series=form, times=[4.0, 6.0], level=[50, 90])
            for form in forms
        ]
        assert answers[0].series_id == "fresh" and answers[1].series_id == "new"
        assert answers[0].kind == ["extrapolation", "extrapolation"]
        assert answers[0].mean == answers[1].mean == answers[2].mean
        on_grid = client.predict(model_id, series=forms[0], grid=(4, 6, 2), level=[50, 90])
        assert on_grid.times == [4.0, 6.0] and on_grid.mean == answers[0].mean

        # GET /predict.png
        path = tmp_path / "s0.png"
        png = client.plot(model_id, "s0", grid=(0, 15, 50), level=[50, 90], path=path)
        assert png.startswith(PNG_SIGNATURE) and path.read_bytes() == png
        assert client.plot(model_id, "s0", times=[1.0, 2.0]).startswith(PNG_SIGNATURE)

        # Server errors carry the server's status, code, message and details.
        with pytest.raises(ApiError) as unknown:
            client.predict(model_id, series_id="nope", times=[1.0])
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        assert "nope" in unknown.value.message
        assert str(unknown.value) == f"HTTP 404 not_found: {unknown.value.message}"
        with pytest.raises(ApiError) as bad_level:
            client.predict(model_id, series_id="s0", times=[1.0], level=150)
        assert (bad_level.value.status, bad_level.value.code) == (422, "invalid_input")
        assert "150" in bad_level.value.message
        with pytest.raises(ApiError) as bad_series:
            client.fit({"dup": ([0.0, 1.0, 1.0], [1.0, 2.0, 3.0])})
        error = bad_series.value
        assert (error.status, error.code) == (422, "invalid_series")
        assert "dup" in error.message and error.details
        assert str(error) == f"HTTP 422 invalid_series: {error.message}"
        with pytest.raises(ApiError) as bad_settings:
            client.fit(make_series(), training={"epochs": 0})
        assert bad_settings.value.code == "invalid_input"
        assert "training.epochs" in bad_settings.value.message


def test_fit_from_numpy_with_gaps_and_datetimes(api: str, run_worker) -> None:
    rng = np.random.default_rng(3)
    start = np.datetime64("2026-03-01T00:00:00", "ns")
    series = {}
    for i in range(5):
        hours = np.sort(rng.choice(np.arange(0, 240), size=16, replace=False))
        times = start + hours.astype("timedelta64[h]")
        phase = rng.uniform(0, 6)
        values = np.stack([np.sin(hours / 24 + phase), np.cos(hours / 24 + phase)], axis=1)
        values[rng.random(values.shape) < 0.2] = np.nan
        values[~np.isfinite(values).any(axis=1), 0] = 0.0  # no row with nothing observed
        series[f"n{i}"] = (times, values)

    sent = series_payload(series)
    assert sent[0]["times"][0].endswith("Z") and sent[0]["times"][0].startswith("2026-03-")
    nan_rows = [r for r in sent[0]["values"] if None in r]
    assert nan_rows and all(isinstance(v, float) or v is None for r in nan_rows for v in r)

    with Client(api) as client:
        fitted, _ = train(client, run_worker, series)
        model = client.model(fitted.model_id)
        assert (model.dims, model.time_kind, model.series_ids) == (2, "datetime", list(series))
        assert model.n_points == sum(len(t) for t, _ in series.values())

        asked = [np.datetime64("2026-03-02T06:00:00"), np.datetime64("2026-03-20T00:00:00")]
        p = client.predict(fitted.model_id, series_id="n0", times=np.array(asked), level=80)
        assert p.times[0].startswith("2026-03-02T06:00:00") and p.dims == 2
        assert p.kind == ["interpolation", "extrapolation"]
        aware = [datetime(2026, 3, 2, 7, 0, tzinfo=timezone(timedelta(hours=1)))]
        assert client.predict(fitted.model_id, series_id="n0", times=aware).times == p.times[:1]

        times, values = series["n1"]
        new = client.predict(
            fitted.model_id, series={"n1-again": (times, values)}, times=times[-1:] + 3600
        )
        assert new.series_id == "n1-again" and new.kind == ["extrapolation"]


def test_fit_from_a_long_pandas_frame(api: str, run_worker) -> None:
    import pandas as pd  # a test requirement (dev extra): frames are one of the client's inputs

    rows = []
    for s in make_series(count=5, points=14, dims=2, seed=4):
        for k, (t, (x, y)) in enumerate(zip(s["times"], s["values"], strict=True)):
            stamp = pd.Timestamp("2026-01-01") + pd.Timedelta(hours=t)  # naive: taken as UTC
            rows.append(
                {
                    "sensor": f"p-{s['id']}",
                    "ts": stamp,
                    "x": x,
                    "y": math.nan if k % 4 else y,
                    "note": "z",
                }
            )
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # long and unsorted
    order = list(dict.fromkeys(frame["sensor"]))
    with Client(api) as client:
        fitted, _ = train(
            client, run_worker, frame, id_col="sensor", time_col="ts", value_cols=["x", "y"]
        )
        model = client.model(fitted.model_id)
        assert (model.dims, model.time_kind, model.series_ids) == (2, "datetime", order)
        assert model.n_points == len(frame)

        one = frame[frame["sensor"] == order[0]].drop(columns="note")
        asked = [pd.Timestamp("2026-01-01T05:00", tz="Europe/Paris"), "2026-01-02T00:00:00Z"]
        p = client.predict(fitted.model_id, series=one, id_col="sensor", time_col="ts", times=asked)
        assert p.series_id == order[0] and p.times[0].startswith("2026-01-01T04:00:00")
        table = p.to_frame()
        assert str(table["time"].dtype).startswith("datetime64") and len(table) == 4
        assert table["time"].iloc[0] == pd.Timestamp("2026-01-01T04:00:00Z")

    # Timestamps: naive as UTC ('Z'), aware ones with their offset (sent as the same instant).
    aware = pd.DataFrame(
        {
            "id": ["a", "a"],
            "time": pd.to_datetime(["2026-03-01T12:00", "2026-03-01T13:30"]),
            "v": [1.0, None],
        }
    )
    aware["time"] = aware["time"].dt.tz_localize("Europe/Paris")
    assert series_payload(aware) == [
        {
            "id": "a",
            "times": ["2026-03-01T11:00:00Z", "2026-03-01T12:30:00Z"],
            "values": [[1.0], [None]],
        }
    ]


# --------------------------------------------------------------------------- API keys


def test_api_keys(settings, redis_client, tmp_path: Path) -> None:
    with running_api(tmp_path / "api.log", ODECAST_API_KEYS="k") as url:
        with Client(url) as anonymous, pytest.raises(ApiError) as refused:
            anonymous.models()
        assert (refused.value.status, refused.value.code) == (401, "unauthorized")
        with Client(url, api_key="wrong") as wrong, pytest.raises(ApiError) as refused:
            wrong.models()
        assert refused.value.status == 401
        with Client(url, api_key="k") as client:
            assert client.models() == []
            assert client.health()["status"] == "ok"


# --------------------------------------------------------------------------- retries


class ScriptedServer:
    """An HTTP server of the test's own: answers each request with the next entry of its script
    (the last one repeats) and records what it got. An entry is (status, headers, body), or
    "close" to drop the connection without answering."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                    }
                )
                entry = server.script[min(len(server.requests), len(server.script)) - 1]
                if entry == "close":
                    self.close_connection = True
                    return
                status, headers, payload = entry
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def error(status: int, code: str, message: str, **headers: str) -> tuple:
    return (status, headers, {"error": {"code": code, "message": message, "details": []}})


UNAVAILABLE = error(503, "queue_unavailable", "Redis is down", **{"Retry-After": "0"})
ACCEPTED = (202, {}, {"job_id": "j-1", "model_id": "m-1", "status_url": "/jobs/j-1"})


def test_503_is_retried_honouring_retry_after() -> None:
    with ScriptedServer([UNAVAILABLE, UNAVAILABLE, (200, {}, {"models": []})]) as server:
        # backoff_s=30: only Retry-After: 0 keeps this quick.
        with Client(server.url, backoff_s=30) as client:
            began = time.monotonic()
            assert client.models() == []
            assert time.monotonic() - began < 5
        assert [r["path"] for r in server.requests] == ["/models"] * 3
        headers = server.requests[0]["headers"]
        assert headers["User-Agent"].startswith("odecast-client/")
        assert "X-API-Key" not in headers


def test_a_retried_fit_keeps_its_idempotency_key() -> None:
    bad_gateway = (502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>")
    script = [UNAVAILABLE, bad_gateway, "close", ACCEPTED]
    with ScriptedServer(script) as server, Client(server.url, "secret", backoff_s=0.01) as client:
        fitted = client.fit({"a": ([0.0, 1.0], [1.0, 2.0])}, training={"epochs": 3})
        assert (fitted.job_id, fitted.model_id) == ("j-1", "m-1")
        assert len(server.requests) == 4
        keys = {r["headers"]["Idempotency-Key"] for r in server.requests}
        assert keys == {fitted.idempotency_key} and uuid.UUID(fitted.idempotency_key)
        assert len({r["body"] for r in server.requests}) == 1
        body = json.loads(server.requests[0]["body"])
        assert body == {
            "series": [{"id": "a", "times": [0.0, 1.0], "values": [1.0, 2.0]}],
            "training": {"epochs": 3},
        }
        assert server.requests[0]["headers"]["X-API-Key"] == "secret"

    with ScriptedServer([UNAVAILABLE, ACCEPTED]) as server, Client(server.url) as client:
        assert client.fit([{"id": "a", "times": [0], "values": [1]}], idempotency_key="mine")
        assert [r["headers"]["Idempotency-Key"] for r in server.requests] == ["mine", "mine"]


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (error(500, "internal_error", "internal error; see the logs"), "internal_error", None),
        (error(422, "invalid_series", "series 'a', index 1: duplicate"), "invalid_series", None),
        ((500, {"Content-Type": "text/plain"}, b"upstream exploded"), None, "upstream exploded"),
        ((409, {}, {"detail": "not yet"}), None, "not yet"),
    ],
)
def test_other_errors_are_not_retried(answer: tuple, code: str | None, message: str | None) -> None:
    with ScriptedServer([answer, (200, {}, {"models": []})]) as server:
        with Client(server.url, backoff_s=0.01) as client, pytest.raises(ApiError) as raised:
            client.fit({"a": ([0.0], [1.0])})
        assert len(server.requests) == 1
    assert (raised.value.status, raised.value.code) == (answer[0], code)
    expected = message or answer[2]["error"]["message"]
    assert raised.value.message == expected
    assert str(raised.value) == f"HTTP {answer[0]}{f' {code}' if code else ''}: {expected}"


def test_gateway_errors_give_up_after_the_retries_with_backoff() -> None:
    timeout = error(504, "gateway_timeout", "upstream timed out")
    with ScriptedServer([timeout]) as server:
        with Client(server.url, retries=3, backoff_s=0.05) as client:
            began = time.monotonic()
            with pytest.raises(ServerUnavailable) as raised:
                client.job("j-1")
            elapsed = time.monotonic() - began
        assert len(server.requests) == 4
    assert 0.05 + 0.1 + 0.2 <= elapsed < 5
    assert (raised.value.status, raised.value.code, raised.value.attempts) == (
        504,
        "gateway_timeout",
        4,
    )
    assert "upstream timed out" in str(raised.value) and isinstance(raised.value, ClientError)

    # Retry-After is capped.
    slow = error(503, "queue_unavailable", "later", **{"Retry-After": "3600"})
    with (
        ScriptedServer([slow, (200, {}, {"jobs": []})]) as server,
        Client(server.url, max_retry_after_s=0.01) as client,
    ):
        assert client.jobs() == []


def test_connection_errors_are_retried_then_raised() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, retries=2, backoff_s=0.01) as client:
        began = time.monotonic()
        with pytest.raises(ServerUnavailable) as raised:
            client.models()
        assert time.monotonic() - began < 5
    assert (raised.value.status, raised.value.attempts) == (None, 3)
    assert url in str(raised.value)


# --------------------------------------------------------------------------- no server needed


def test_importing_the_client_is_light() -> None:
    code = (
        "import sys, service.client; "
        "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'fastapi', 'redis') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("series", "match"),
    [
        ("a,b", "cannot send series given as str"),
        (42, "cannot send series given as int"),
        ([], "no series given"),
        ({}, "no series given"),
        ([(0, 1)], r"series\[0\] is a tuple"),
        ({"a": [1.0, 2.0, 3.0]}, r"series 'a': expected \(times, values\)"),
        ({"a": ([0, 1], [1.0])}, "2 times but 1 values"),
        ({"a": ([datetime(2026, 1, 1)], [1.0])}, "has no timezone"),
        ({"a": ("0,1", [1.0])}, "times must be a list"),
        ({"a": (np.zeros((2, 2)), [1.0, 2.0])}, "one-dimensional"),
        ({"a": ([0, 1], np.zeros((2, 2, 2)))}, r"\[T\] or \[T, D\]"),
        ({"a": (np.array(["2026-01-01", "NaT"], dtype="datetime64[s]"), [1, 2])}, "NaT"),
    ],
)
def test_series_in_unknown_forms_are_refused_before_any_request(series: Any, match: str) -> None:
    with ScriptedServer([ACCEPTED]) as server, Client(server.url) as client:
        with pytest.raises(ValueError, match=match):
            client.fit(series)
        with pytest.raises(ValueError):
            client.predict("m-1", series=series, times=[1.0])
        assert server.requests == []


def test_predict_batch_mixes_training_and_new_series(api: str, run_worker) -> None:
    with Client(api) as client:
        fitted, _ = train(client, run_worker, make_series())
        model_id = fitted.model_id
        new = {"fresh": ([0.0, 1.0, 2.0, 3.0], [0.2, 0.4, 0.1, 0.3])}
        batch = client.predict_batch(
            model_id, series_ids=["s0", "s2"], series=new, times=[1.5, 12.0], level=[90]
        )
        assert isinstance(batch, PredictionBatch) and batch.errors == []
        assert [p.series_id for p in batch.predictions] == ["s0", "s2", "fresh"]
        single = client.predict(model_id, series_id="s2", times=[1.5, 12.0], level=90)
        np.testing.assert_allclose(batch.predictions[1].mean, single.mean, rtol=1e-3, atol=1e-4)
        rows = batch.to_rows()
        assert [r["id"] for r in rows] == ["s0", "s0", "s2", "s2", "fresh", "fresh"]
        assert list(rows[0])[:3] == ["id", "time", "dim"]
        grid = client.predict_batch(model_id, series_ids=["s1"], grid=(0, 15, 4))
        assert grid.predictions[0].times == [0.0, 5.0, 10.0, 15.0]
        with pytest.raises(ValueError, match="series_ids, series"):
            client.predict_batch(model_id, times=[1.0])


def test_batch_grids_of_iso_times_are_computed_in_utc() -> None:
    from service.client import _grid_values

    start, stop = "2026-03-01T02:00:00+02:00", "2026-03-01T01:00:00Z"
    assert _grid_values((start, stop, 3)) == [
        "2026-03-01T00:00:00+00:00",
        "2026-03-01T00:30:00+00:00",
        "2026-03-01T01:00:00+00:00",
    ]
    with pytest.raises(ValueError, match="offset"):
        _grid_values(("2026-03-01T02:00:00", stop, 3))
    assert _grid_values((0, 1, 3)) == [0.0, 0.5, 1.0]


def test_predict_arguments_are_checked_before_any_request() -> None:
    with ScriptedServer([ACCEPTED]) as server, Client(server.url) as client:
        one = {"a": ([0.0], [1.0])}
        with pytest.raises(ValueError, match=r"series_id .* or series"):
            client.predict("m-1", times=[1.0])
        with pytest.raises(ValueError, match=r"series_id .* or series"):
            client.predict("m-1", series_id="a", series=one, times=[1.0])
        with pytest.raises(ValueError, match="times or grid"):
            client.predict("m-1", series_id="a", times=[1.0], grid=(0, 1, 2))
        with pytest.raises(ValueError, match="grid must be"):
            client.predict("m-1", series_id="a", grid=(0, 1))
        with pytest.raises(ValueError, match="one series"):
            client.predict("m-1", series={**one, "b": ([0.0], [1.0])}, times=[1.0])
        with pytest.raises(ValueError, match="numeric"):
            client.predict("m-1", series=one, grid=("2026-01-01T00:00Z", "2026-01-02T00:00Z", 3))
        assert server.requests == []
    with pytest.raises(ValueError, match="http"):
        Client("localhost:8000")


def test_times_are_sent_in_the_query_as_given() -> None:
    prediction = {
        "model_id": "m-1",
        "series_id": "a",
        "times": [0.1],
        "mean": [[1.0]],
        "intervals": {"80": {"lower": [[0.0]], "upper": [[2.0]]}},
        "kind": ["interpolation"],
    }
    with ScriptedServer([(200, {}, prediction)]) as server, Client(server.url) as client:
        aware = datetime(2026, 1, 1, tzinfo=UTC)
        client.predict("m-1", series_id="a", times=[0.1, 2, "2026-01-01T00:00Z", aware])
        client.predict("m-1", series_id="a", grid=(0, 1.5, 3), quantiles=[0.1, 0.9], n_samples=7)
    first, second = (r["path"] for r in server.requests)
    assert first == (
        "/predict?model_id=m-1&series_id=a&t=0.1&t=2&t=2026-01-01T00%3A00Z"
        "&t=2026-01-01T00%3A00%3A00%2B00%3A00&seed=0"
    )
    assert second == (
        "/predict?model_id=m-1&series_id=a&start=0&stop=1.5&num=3"
        "&quantiles=0.1&quantiles=0.9&n_samples=7&seed=0"
    )


def test_a_batch_sent_in_parts_numbers_its_errors_across_them() -> None:
    failed = {"code": "prediction_failed", "message": "the solver gave up"}
    first = PredictionBatch("m", [None, None], [{**failed, "index": 1}])
    second = PredictionBatch("m", [None, None], [{**failed, "index": 0}])
    joined = PredictionBatch.joined([first, second])
    assert joined.predictions == [None] * 4
    assert [e["index"] for e in joined.errors] == [1, 2]
