"""``odecast fit / jobs / models / predict / cancel / delete`` against the real stack: Redis, the
API served by uvicorn on a free port (``odecast api``) and, while a job trains, a real worker
(``odecast worker``), all as subprocesses. The CLI runs in this process (``main([...])``) except
``fit --wait``, which runs as a subprocess while the worker trains.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from stack_helpers import wait_healthy

from service.cli import CliError, build_parser, main, read_series_csv
from service.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "oscillators.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STARTUP_TIMEOUT_S = 90.0
CLI = [sys.executable, "-m", "service.cli"]


def _env(store: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODECAST_")}
    env.update(
        ODECAST_STORE=str(store),
        ODECAST_REDIS_URL=redis_url,
        ODECAST_PROGRESS_EVERY_S="0",
        ODECAST_CHECKPOINT_EVERY_S="1",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL to the process group (it was started in a session of its own)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def _api(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_healthy(port, proc, STARTUP_TIMEOUT_S)
        except AssertionError as err:
            pytest.fail(f"{err}:\n{log.read_text()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One API for the module (on an emptied Redis database and a fresh store)."""
    redis.Redis.from_url(redis_url).flushdb()
    root = tmp_path_factory.mktemp("cli-stack")
    env = _env(root / "store", redis_url)
    with _api(env, root / "api.log") as url:
        yield {"url": url, "env": env, "root": root}


@pytest.fixture(scope="module")
def trained(stack: dict) -> dict:
    """``odecast fit examples/oscillators.csv --wait`` as a subprocess, while a real worker
    trains the job (a few epochs)."""
    log = stack["root"] / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [*CLI, "worker"],
            env=stack["env"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        budget = ["--epochs", "4", "--max-seconds", "30"]
        done = subprocess.run(
            [*CLI, "fit", str(EXAMPLE), "--wait", *budget, "--url", stack["url"]],
            env=stack["env"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        _stop(worker, 70)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log.read_text()}"
    fields = dict(line.split(None, 1) for line in done.stdout.splitlines())
    return {"done": done, "fields": fields, "model_id": fields["model_id"]}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``odecast ARGV`` in this process: exit code, stdout, stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the happy path


def test_fit_waits_for_the_job_to_succeed(trained: dict) -> None:
    done, fields = trained["done"], trained["fields"]
    assert set(fields) >= {"job_id", "model_id", "status", "val_interp_mse", "val_extrap_mse"}
    assert fields["status"] == "succeeded"
    assert "x linear_interpolation" in fields["interpolation_skill"]
    assert "80% holds" in fields["extrapolation_skill"]
    assert float(fields["epochs_run"]) == 4
    assert "20 series, 800 rows" in done.stderr and "0 position, 1 velocity" in done.stderr
    assert "4/4" in done.stderr and "loss" in done.stderr  # the progress bar
    # the provisional stage was told before training ended
    told = done.stderr.index(f"model {fields['model_id']} predicts now (stage provisional")
    assert told < done.stderr.index("4/4")


def test_jobs_and_models_tables_and_json(
    stack: dict, trained: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    url, model_id = stack["url"], trained["model_id"]
    code, out, _ = run(["jobs", "--url", url], capsys)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["JOB", "MODEL", "STATUS", "EPOCH"]
    assert any(trained["fields"]["job_id"] in r and "succeeded" in r and "4/4" in r for r in rows)

    code, out, _ = run(["jobs", "--url", url, "--json"], capsys)
    jobs = json.loads(out)
    assert code == 0 and [j["model_id"] for j in jobs] == [model_id]
    assert jobs[0]["progress"]["epoch"] == 4

    code, out, _ = run(["models", "--url", url], capsys)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "MODEL", "NAME", "STATUS", "DIMS", "SERIES", "POINTS", "INTERP", "EXTRAP", "CREATED"
    ]  # fmt: skip
    assert row.split()[:6] == [model_id, "oscillators.csv", "ready", "2", "20", "800"]
    assert "x linear_interpolation" in row and "80% holds" in row

    code, out, _ = run(["models", "--url", url, "--json"], capsys)
    (model,) = json.loads(out)
    assert code == 0 and model["model_id"] == model_id and model["dims"] == 2
    assert len(model["series_ids"]) == 20 and model["n_points"] == 800


def test_models_backtest_prints_each_origins_errors(
    stack: dict, trained: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    url, model_id = stack["url"], trained["model_id"]
    code, out, _ = run(["models", model_id, "--backtest", "--url", url], capsys)
    assert code == 0
    lines = out.splitlines()
    dimension_lines = [line for line in lines if line.startswith("dimension ")]
    assert len(dimension_lines) == 2  # the oscillators' position and velocity
    headers = [line for line in lines if line.startswith("SERIES")]
    assert len(headers) == 2 and all("SERVED" in h.split() for h in headers)
    code, out, _ = run(["models", model_id, "--backtest", "--json", "--url", url], capsys)
    table = json.loads(out)
    assert code == 0 and len(table["dims"]) == 2 and table["model_id"] == model_id
    code, _, err = run(["models", model_id, "--url", url], capsys)
    assert code == 2 and "--backtest" in err


def test_predict_at_times_prints_a_table(
    stack: dict, trained: dict, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("ODECAST_URL", stack["url"])  # no --url: the environment's
    argv = ["predict", trained["model_id"], "--series", "oscillator-0", "--at", "2.5", "7.125"]
    code, out, err = run([*argv, "--at", "12", "--level", "90"], capsys)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["time", "dim", "mean", "lower_90", "upper_90", "kind"]
    assert len(rows) == 3 * 2
    assert [r.split()[:2] for r in rows] == [
        ["2.5", "0"], ["2.5", "1"], ["7.125", "0"], ["7.125", "1"], ["12", "0"], ["12", "1"]
    ]  # fmt: skip
    assert [r.split()[-1] for r in rows] == ["interpolation"] * 4 + ["extrapolation"] * 2
    for row in rows:
        mean, lower, upper = map(float, row.split()[2:5])
        assert lower <= mean <= upper


def test_predict_a_grid_to_csv_and_png(
    stack: dict, trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv, out_png = tmp_path / "out.csv", tmp_path / "out.png"
    argv = ["predict", trained["model_id"], "--series", "oscillator-3", "--url", stack["url"]]
    levels = ["--level", "50", "--level", "90"]
    code, out, err = run(
        [*argv, "--grid", "0:15:31", *levels, "--csv", str(out_csv), "--plot", str(out_png)],
        capsys,
    )
    assert code == 0, err
    assert f"wrote {out_csv}" in out and f"wrote {out_png}" in out
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert list(rows[0]) == [
        "time", "dim", "mean", "lower_50", "upper_50", "lower_90", "upper_90", "kind"
    ]  # fmt: skip
    assert len(rows) == 31 * 2
    assert float(rows[0]["time"]) == 0 and float(rows[-1]["time"]) == 15
    assert {r["kind"] for r in rows} == {"interpolation", "extrapolation"}
    assert all(float(r["lower_90"]) <= float(r["lower_50"]) <= float(r["mean"]) for r in rows)
    assert out_png.read_bytes().startswith(PNG_SIGNATURE)

    # START,STOP,NUM (the form for ISO-8601 datetimes) and the API's JSON.
    code, out, _ = run([*argv, "--grid", "0,15,4", "--json"], capsys)
    answer = json.loads(out)
    assert code == 0 and answer["times"] == [0, 5, 10, 15] and list(answer["intervals"]) == ["80"]


def test_predict_several_series_or_all_in_one_batch(
    stack: dict, trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["predict", trained["model_id"], "--url", stack["url"], "--at", "2.5", "12"]
    code, out, err = run([*argv, "--series", "oscillator-0,oscillator-3"], capsys)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["id", "time", "dim", "mean", "lower_80", "upper_80", "kind"]
    assert [r.split()[:3] for r in rows] == [
        [series, t, d]
        for series in ("oscillator-0", "oscillator-3")
        for t in ("2.5", "12")
        for d in "01"
    ]
    single = run([*argv, "--series", "oscillator-3", "--json"], capsys)[1]
    means = [m for row in json.loads(single)["mean"] for m in row]
    batched = [float(r.split()[3]) for r in rows[4:]]
    np.testing.assert_allclose(batched, means, rtol=1e-3, atol=1e-4)

    out_csv = tmp_path / "all.csv"
    code, out, err = run([*argv, "--all", "--csv", str(out_csv)], capsys)
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert {r["id"] for r in table} == {f"oscillator-{i}" for i in range(20)}
    assert len(table) == 20 * 2 * 2
    code, _, err = run([*argv, "--all", "--plot", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "--plot draws one series" in err


def test_a_batch_past_the_apis_limits_goes_in_parts(
    stack: dict, trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """``--all`` on more series than one POST /predict/batch takes (here 7 a part): the same
    table, in order (it had been the server's 422 "split the batch", which a CLI user cannot)."""
    argv = ["predict", trained["model_id"], "--url", stack["url"], "--at", "2.5", "12", "--all"]
    whole, parts = tmp_path / "whole.csv", tmp_path / "parts.csv"
    assert run([*argv, "--csv", str(whole)], capsys)[0] == 0
    monkeypatch.setattr("service.client.client.BATCH_ITEMS", 7)
    before = _batch_requests(stack["url"])
    assert run([*argv, "--csv", str(parts)], capsys)[0] == 0
    assert _batch_requests(stack["url"]) - before == 3  # 20 series: 7 + 7 + 6
    rows = [list(csv.DictReader(io.StringIO(f.read_text()))) for f in (whole, parts)]
    assert [(r["id"], r["time"], r["dim"]) for r in rows[1]] == [
        (r["id"], r["time"], r["dim"]) for r in rows[0]
    ]
    # each part is its own batched solve: the same answers within the solver's tolerance
    means = [[float(r["mean"]) for r in table] for table in rows]
    np.testing.assert_allclose(means[1], means[0], rtol=1e-3, atol=1e-4)


def _batch_requests(url: str) -> float:
    """How many POST /predict/batch the API has answered 200, from its /metrics."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    labels = 'method="POST",route="/predict/batch",status="200"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("odecast_http_requests_total{") and labels in line
    )


# --------------------------------------------------------------------------- what goes wrong


def test_many_times_and_a_closed_pipe(stack: dict, trained: dict) -> None:
    """1,500 ``--at`` times (a GET's URL would be too long: they go in a POST body), then
    ``| head -1``: no InvalidURL and no BrokenPipeError traceback."""
    times = [f"{t:.4f}" for t in np.linspace(0.5, 9.5, 1500)]
    argv = [*CLI, "predict", trained["model_id"], "--series", "oscillator-0", "--at", *times]
    with subprocess.Popen(
        [*argv, "--url", stack["url"]],
        env=stack["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        header = proc.stdout.readline().decode()
        proc.stdout.close()  # the reader leaves, as head does
        err = proc.stderr.read().decode()
        code = proc.wait(120)
    assert "time" in header and "mean" in header, (header, err)
    assert "Traceback" not in err and code in (0, 141), err


def test_an_unknown_model_is_the_servers_404(
    stack: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["predict", "no-such-model", "--series", "a", "--at", "1", "--url", stack["url"]]
    code, out, err = run(argv, capsys)
    assert code == 1 and out == ""
    assert err.startswith("odecast: error: HTTP 404 not_found:") and "'no-such-model'" in err


def test_a_duplicate_time_is_the_servers_422_with_the_csv_line(
    stack: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _write_csv(
        tmp_path / "dup.csv",
        "id,time,x\na,0,1\na,1,2\na,2,3\nb,0,1\nb,0.5,2\nb,1.5,2\nb,0.5,3\nb,3,4\n",
    )
    code, out, err = run(["fit", str(data), "--url", stack["url"]], capsys)
    assert code == 1 and out == ""
    # The server's words (series b, index 3), and where that is in the file.
    assert "HTTP 422 invalid_series: b[3]: time 0.5 also appears at index 1" in err
    assert f"b[3] is {data} line 8" in err


def test_refit_without_waiting_then_cancel(
    stack: dict, trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No worker runs here: the refit's job stays queued, and the model serves version 1."""
    url, model_id = stack["url"], trained["model_id"]
    data = _write_csv(
        tmp_path / "more.csv",
        "id,time,position,velocity\noscillator-0,10.5,0.1,0.2\noscillator-0,11.0,0.0,\n",
    )
    code, out, err = run(["refit", model_id, str(data), "--url", url], capsys)
    assert code == 0, err
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["version"] == "2" and "1 series, 2 rows" in err
    code, out, _ = run(["models", "--url", url, "--json"], capsys)
    (model,) = [m for m in json.loads(out) if m["model_id"] == model_id]
    assert (model["version"], model["pending_version"]) == (1, 2)
    code, out, _ = run(["cancel", fields["job_id"], "--url", url], capsys)
    assert code == 0
    code, out, _ = run(["models", "--url", url, "--json"], capsys)
    (model,) = [m for m in json.loads(out) if m["model_id"] == model_id]
    assert model["pending_version"] is None
    assert [v["status"] for v in model["versions"]] == ["ready", "cancelled"]
    code, _, err = run(["refit", model_id, str(data), "--url", url, "--max-seconds", "0"], capsys)
    assert code == 2 and "--max-seconds" in err


def test_fit_without_waiting_then_cancel_and_skip_empty_rows(
    stack: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No worker runs here: the job stays queued, and cancelling it is immediate."""
    url = stack["url"]
    data = _write_csv(
        tmp_path / "iso.csv",
        "series;when;a;b\n"
        "s1;2026-03-01T12:00:00+02:00;1.5;\n"
        "s1;2026-03-01T13:30:00+02:00;;\n"
        "s1;2026-03-01T14:00:00+02:00;;2\n"
        "s2;2026-03-01T12:10:00Z;0.5;1\n".replace(";", ","),
    )
    argv = ["fit", str(data), "--id-col", "series", "--time-col", "when", "-q", "--url", url]
    code, out, err = run([*argv, "--name", "iso", "--max-seconds", "5"], capsys)
    assert code == 0, err
    model_id = out.strip()
    assert "skipped 1 row(s)" in err and "line 3" in err

    code, out, _ = run(["jobs", "--url", url, "--json"], capsys)
    (job,) = [j for j in json.loads(out) if j["model_id"] == model_id]
    assert job["status"] == "queued"
    code, out, _ = run(["cancel", job["job_id"], "--url", url], capsys)
    assert code == 0 and out.strip() == f"job {job['job_id']} cancelled"
    code, _, err = run(["cancel", job["job_id"], "--url", url], capsys)
    assert code == 1 and "HTTP 409 job_finished" in err

    code, out, _ = run(["models", "--url", url, "--json"], capsys)
    (model,) = [m for m in json.loads(out) if m["model_id"] == model_id]
    assert (model["name"], model["time_kind"], model["n_points"]) == ("iso", "datetime", 3)
    code, out, _ = run(["delete", model_id, "--url", url], capsys)
    assert code == 0 and out.strip() == f"deleted model {model_id}"


def test_fit_wait_exits_1_when_the_job_is_cancelled(
    stack: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """No worker runs here: ``fit --wait`` waits on a queued job until it is cancelled."""
    url = stack["url"]
    waiting = subprocess.Popen(
        [*CLI, "fit", str(EXAMPLE), "--wait", "-q", "--name", "doomed", "--url", url],
        env=stack["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (jobs := [j for j in _jobs(url, capsys) if j["status"] == "queued"]):
            assert waiting.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        (job,) = jobs
        assert run(["cancel", job["job_id"], "--url", url], capsys)[0] == 0
        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 1
    assert out.strip() == job["model_id"]  # -q: the model id, at once
    assert f"odecast: error: job {job['job_id']} was cancelled" in err
    assert run(["delete", job["model_id"], "--url", url], capsys)[0] == 0


def _jobs(url: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    code, out, err = run(["jobs", "--json", "--url", url], capsys)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("", "is empty"),
        ("series,t,x\na,1,2\n", "no column 'id' or 'time' (columns: 'series', 't', 'x')"),
        ("id,time\na,1\n", "bad value columns []"),
        ("id,time,x\na,1,abc\n", "line 2, column 'x': 'abc' is not a finite number"),
        ("id,time,x\na,1,nan\n", "'nan' is not a finite number"),
        ("id,time,x\na,,2\n", "line 2: empty 'time' cell"),
        ("id,time,x\na,1,2,3\n", "line 2: 4 cells, but the header has 3"),
    ],
)
def test_a_bad_csv_is_a_usage_error(
    content: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    # The file is read before anything is sent: no server is needed.
    code, out, err = run(["fit", str(path), "--url", "http://127.0.0.1:9"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("odecast: error:") and message in err


def test_a_wrong_api_key_is_the_servers_401(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    env = _env(tmp_path / "store", redis_url, ODECAST_API_KEYS="s3cret,other")
    with _api(env, tmp_path / "api.log") as url:
        code, out, err = run(["models", "--url", url, "--api-key", "wrong"], capsys)
        assert code == 1 and out == ""
        assert "HTTP 401 unauthorized:" in err and "--api-key or ODECAST_API_KEY" in err
        code, _, err = run(["models", "--url", url], capsys)
        assert code == 1 and "HTTP 401" in err
        monkeypatch.setenv("ODECAST_API_KEY", "s3cret")
        code, out, err = run(["models", "--url", url], capsys)
        assert (code, out.strip()) == (0, "(no models)"), err


def test_an_unreachable_server_names_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(["jobs", "--url", url], capsys)
    assert code == 1 and out == ""
    assert f"cannot reach the odecast API at {url}" in err


def test_delete_removes_the_model(
    stack: dict, trained: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    url, model_id = stack["url"], trained["model_id"]
    # one that cannot be deleted is reported, and the next still is (it had stopped there)
    code, out, err = run(["delete", "m-nope", model_id, "--url", url], capsys)
    assert code == 1 and out.strip() == f"deleted model {model_id}"
    assert "model m-nope: HTTP 404 not_found" in err
    code, out, _ = run(["models", "--url", url], capsys)
    assert code == 0 and out.strip() == "(no models)"
    code, _, err = run(["delete", model_id, "--url", url], capsys)
    assert code == 1 and "HTTP 404 not_found" in err


# --------------------------------------------------------------------------- parsing


def test_predict_options() -> None:
    parse = build_parser().parse_args
    args = parse(["predict", "m", "--series", "s", "--at", "1.5", "2", "--at", "-3", "--at", "x"])
    assert args.at == [1.5, 2.0, -3.0, "x"] and args.grid is None and args.level is None
    args = parse(["predict", "m", "--series", "s", "--grid", "0:10:5", "--level", "90"])
    assert args.grid == (0.0, 10.0, 5) and args.level == [90.0]
    iso = "2026-03-01T12:00:00+02:00,2026-03-02T12:00:00+02:00,25"
    assert parse(["predict", "m", "--series", "s", "--grid", iso]).grid == (
        "2026-03-01T12:00:00+02:00",
        "2026-03-02T12:00:00+02:00",
        25,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "m", "--series", "s"],  # no times
        ["predict", "m", "--at", "1"],  # no series
        ["predict", "m", "--series", "s", "--all", "--at", "1"],
        ["worker", "--device", "gpu"],
        ["worker", "--device", "cuda:x"],
        ["predict", "m", "--series", ",", "--at", "1"],
        ["predict", "m", "--series", "s", "--at", "1", "--grid", "0:1:2"],
        ["predict", "m", "--series", "s", "--grid", "2026-03-01T12:00:00+02:00:2026-03-02:5"],
        ["predict", "m", "--series", "s", "--grid", "0:1:x"],
        ["predict", "m", "--series", "s", "--grid", "0:1:0"],
        ["fit"],
        ["fit", "x.csv", "--epochs", "0"],
        ["fit", "x.csv", "--max-seconds", "soon"],
        ["delete"],
        ["jobs", "extra"],
    ],
)
def test_client_command_usage_errors_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2 and "usage: odecast" in err


def test_import_stays_light() -> None:
    code = (
        "import sys, service.cli; print(sorted(m for m in ('httpx', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_bad_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["models", "--url", "localhost:8000"], capsys)
    assert code == 2 and "http://" in err
    code, _, err = run(["models", "--url", "http://127.0.0.1:abc"], capsys)
    assert code == 2 and "is not a URL" in err and "Traceback" not in err


# Each is refused before a request is sent (the URL has no server): a usage error or a one-line
# failure, never a traceback (each had been one).
REFUSED_BEFORE_SENDING = [
    (["models", "--api-key", "kéy"], 2, "the API key must be printable ASCII"),
    (["jobs", "--api-key", "a\x1bb"], 2, "the API key must be printable ASCII"),
    (["predict", "m", "--series", "a,b", "--grid", "foo,bar,3"], 2, "ISO-8601"),
    (
        ["predict", "m", "--series", "a,b", "--grid", "2026-03-01T00:00:00,2026-03-02T00:00:00,3"],
        2,
        "UTC offset",
    ),
    (["predict", "m", "--series", "a,b", "--grid", "2026-03-01T00:00:00Z,7,3"], 2, "both"),
    (["predict", "m", "--series", "a,b", "--grid", "0:1:100000000"], 2, "at most 100,000"),
    (["delete", ""], 1, "an id must not be empty"),
    (["cancel", ""], 1, "an id must not be empty"),
]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    REFUSED_BEFORE_SENDING,
    ids=[" ".join(a) for a, _, _ in REFUSED_BEFORE_SENDING],
)
def test_what_the_client_refuses_is_one_line(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, err = run([*argv, "--url", f"http://127.0.0.1:{free_port()}"], capsys)
    assert (got, out) == (code, ""), err
    assert err.startswith("odecast: error:") and message in err and "Traceback" not in err


def test_a_server_that_is_not_odecast_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something else answering 200 with other JSON: one line, not a KeyError traceback."""
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (tmp_path / "models").write_text(json.dumps({"other": []}))
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while run(["models", "--url", url], capsys)[0] != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        code, out, err = run(["models", "--url", url], capsys)
    finally:
        other.terminate()
        other.wait(10)
    assert (code, out) == (1, ""), err
    assert "is not what odecast's API sends" in err and "Traceback" not in err


def test_read_series_csv(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "d.csv",
        "\ufeffid, time ,a,b,ignored,\nx,1,1.5,,z\ny,2026-03-01T12:00:00Z,,,z,,\n\nx,0.5,,2,z\n",
    )
    data = read_series_csv(path, value_cols=["a", "b"])
    assert data.series == [{"id": "x", "times": [1.0, 0.5], "values": [[1.5, None], [None, 2.0]]}]
    assert (data.rows, data.skipped, data.lines) == (2, [3], {("x", 0): 2, ("x", 1): 5})
    with pytest.raises(CliError, match="column 'ignored': 'z' is not a finite number"):
        read_series_csv(path)  # every other column, by default
