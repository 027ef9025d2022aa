"""The ``odecast`` command: its options, and ``odecast up`` run for real as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil
import pytest
from stack_helpers import FAST_TRAINING, SMALL_MODEL, make_series, wait_for, wait_healthy

from service.cli import build_parser, main
from service.embedded_redis import free_port

STARTUP_TIMEOUT_S = 90.0  # torch imports make the first start slow
STOP_TIMEOUT_S = 75.0  # cli.WORKER_GRACE_S plus a margin


# --------------------------------------------------------------------------- parser


def test_up_options() -> None:
    args = build_parser().parse_args(
        ["up", "--host", "0.0.0.0", "--port", "9001", "--workers", "3", "--store", "/tmp/s"]
    )
    assert (args.command, args.host, args.port, args.workers) == ("up", "0.0.0.0", 9001, 3)
    assert args.store == "/tmp/s"


def test_up_defaults_come_from_settings() -> None:
    args = build_parser().parse_args(["up"])
    assert (args.host, args.port, args.workers, args.store) == (None, None, None, None)


def test_api_options() -> None:
    args = build_parser().parse_args(["api", "--host", "::1", "--port", "8080"])
    assert (args.command, args.host, args.port) == ("api", "::1", 8080)
    assert build_parser().parse_args(["api"]).port is None


def test_worker_options() -> None:
    assert build_parser().parse_args(["worker", "--burst"]).burst is True
    assert build_parser().parse_args(["worker"]).burst is False


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["up", "--port", "http"],
        ["up", "--port", "70000"],
        ["up", "--workers", "-1"],
        ["up", "--workers", "65"],
        ["api", "--port", "-5"],
        ["worker", "--burst=yes"],
        ["worker", "extra"],
        ["up", "--store", ""],  # it had put the store in the current folder
    ],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: odecast" in capsys.readouterr().err


def test_no_command_prints_help_and_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("ODECAST_WORKERS", "many", "up"),
        # uvicorn and logging had refused it only once started: a traceback, then nothing
        ("ODECAST_LOG_LEVEL", "chatty", "api"),
        ("ODECAST_LOG_LEVEL", "chatty", "worker"),
        ("ODECAST_REDIS_URL", "notaurl", "worker"),  # a ValueError traceback from redis-py
    ],
)
def test_bad_settings_are_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    command: str,
) -> None:
    from service.settings import get_settings

    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        assert main([command]) == 2
    finally:
        get_settings.cache_clear()
    assert variable in capsys.readouterr().err


def test_import_is_light_and_module_runs() -> None:
    code = (
        "import sys, service.cli; "
        "print(sorted(m for m in ('torch', 'fastapi', 'uvicorn', 'rq') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_ = subprocess.run(
        [sys.executable, "-m", "service.cli", "--help"], capture_output=True, text=True
    )
    assert help_.returncode == 0
    assert "worker" in help_.stdout and "up" in help_.stdout


def test_worker_burst_on_an_empty_queue_returns_0(redis_url: str, redis_client, tmp_path) -> None:
    env = _env(ODECAST_REDIS_URL=redis_url, ODECAST_STORE=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --------------------------------------------------------------------------- odecast up


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODECAST_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Up:
    """``odecast up`` in a subprocess, its output collected by a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "up", *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our SIGINT goes to `up` alone, as in a terminal
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def wait_healthy(self, port: int) -> None:
        try:
            wait_healthy(port, self.proc, STARTUP_TIMEOUT_S)
        except AssertionError as err:
            pytest.fail(f"{err}:\n{self.output}")

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        try:
            wait_for(predicate, timeout, what)
        except AssertionError as err:
            pytest.fail(f"{err}:\n{self.output}")

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"odecast up did not exit in {timeout:.0f} s:\n{self.output}")
        finally:
            self._reader.join(5)

    def cleanup(self, seen: list[psutil.Process]) -> None:
        """Last resort, so that a failed test leaves nothing running."""
        for proc in [*seen, *self.descendants()]:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@contextmanager
def running_up(argv: list[str], env: dict[str, str]) -> Iterator[tuple[Up, list[psutil.Process]]]:
    up = Up(argv, env)
    seen: list[psutil.Process] = []
    try:
        yield up, seen
    finally:
        up.cleanup(seen)


def _still_running(procs: list[psutil.Process]) -> list[str]:
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())}")
        except psutil.NoSuchProcess:
            pass
    return left


def _is_worker(proc: psutil.Process) -> bool:
    try:
        return proc.cmdline()[-1:] == ["worker"]
    except psutil.Error:
        return False


def _names(procs: list[psutil.Process]) -> list[str]:
    names = []
    for proc in procs:
        with suppress(psutil.Error):
            names.append(proc.name())
    return names


@pytest.mark.slow
def test_up_runs_everything_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "store"
    t0 = time.monotonic()
    with running_up(["--port", str(port), "--workers", "1", "--store", str(store)], _env()) as (
        up,
        seen,
    ):
        up.wait_healthy(port)
        started_s = time.monotonic() - t0
        assert up.lines[0].startswith("odecast  | API and web console on http://127.0.0.1:")
        assert f"http://127.0.0.1:{port}" in up.lines[0] and str(store) in up.lines[0]
        assert (store / "redis" / "appendonly.aof").is_file()

        up.wait_for(lambda: any(_is_worker(p) for p in up.descendants()), 30, "worker start")
        seen += up.descendants()
        assert "redis-server" in _names(seen)
        first_worker = next(p for p in seen if _is_worker(p))

        # A worker that dies is restarted, and the queue is served again.
        first_worker.kill()
        up.wait_for(
            lambda: any(_is_worker(p) and p.pid != first_worker.pid for p in up.descendants()),
            30,
            "worker restart",
        )
        up.wait_for(lambda: "worker-1 restarted" in up.output, 10, "restart message")
        assert "worker-1 exited with code -9; restarting" in up.output
        time.sleep(3)  # let the new worker install its signal handlers
        seen += up.descendants()

        t_stop = time.monotonic()
        up.proc.send_signal(signal.SIGINT)
        code = up.finish(STOP_TIMEOUT_S)
        stop_s = time.monotonic() - t_stop
        assert code == 0, up.output
        assert _still_running(seen) == [], up.output
        assert up.lines[-1] == "odecast  | stopped (exit code 0)"
        print(f"odecast up: healthy after {started_s:.1f} s, stopped in {stop_s:.1f} s")
        # Every part's output reached the one terminal behind its tag.
        for tag in ("api      |", "worker-1 |", "redis    |"):
            assert any(line.startswith(tag) for line in up.lines), tag


@pytest.mark.slow
def test_up_with_redis_url_starts_no_redis_and_restarts_a_dead_api(
    tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    store = tmp_path / "store"
    env = _env(ODECAST_REDIS_URL=redis_url)
    with running_up(["--port", str(port), "--workers", "1", "--store", str(store)], env) as (
        up,
        seen,
    ):
        up.wait_healthy(port)
        up.wait_for(lambda: any(_is_worker(p) for p in up.descendants()), 30, "worker start")
        seen += up.descendants()
        assert "redis-server" not in _names(seen), _names(seen)
        assert not (store / "redis").exists()

        # The API dying (with its worker processes) is restarted; the rest keeps running.
        api = next(p for p in seen if "api" in p.cmdline())
        api.kill()
        up.wait_for(lambda: "api restarted" in up.output, 30, "API restart")
        assert "api exited with code -9; restarting it in 1 s" in up.output
        up.wait_healthy(port)
        seen += up.descendants()
        up.proc.send_signal(signal.SIGINT)
        assert up.finish(STOP_TIMEOUT_S) == 0, up.output
        assert _still_running(seen) == [], up.output


@pytest.mark.slow
def test_up_restarts_its_redis_from_the_aof_while_the_api_serves(tmp_path: Path) -> None:
    """Redis SIGKILLed while one model is ready and another trains: predictions go on, /fit
    answers 503 until Redis is back from its AOF, then the training job finishes."""
    port = free_port()
    store = tmp_path / "store"
    env = _env(ODECAST_WORKER_HEARTBEAT_S="1", ODECAST_WORKER_MAINTENANCE_S="2")
    url = f"http://127.0.0.1:{port}"
    with running_up(["--port", str(port), "--workers", "1", "--store", str(store)], env) as (
        up,
        seen,
    ):
        up.wait_healthy(port)
        ready = _fit(url, {"epochs": 2})
        up.wait_for(lambda: _model_status(url, ready) == "ready", 120, "the first model")
        training = _fit(url, {"epochs": 400, "max_seconds": 25})
        up.wait_for(lambda: _model_status(url, training) == "training", 60, "training")
        seen += up.descendants()
        (redis_server,) = [p for p in seen if p.name() == "redis-server"]
        redis_server.kill()
        # At once, well inside the restart's 1 s backoff: Redis is away.
        down = httpx.post(f"{url}/fit", json=_fit_body({"epochs": 2}), timeout=30)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "queue_unavailable"
        predict = {"model_id": ready["model_id"], "series_id": "s0", "t": "1.5"}
        # Predictions need no Redis: the API keeps serving while Redis is away.
        assert httpx.get(f"{url}/predict", params=predict, timeout=30).status_code == 200
        up.wait_for(lambda: "redis restarted" in up.output, 30, "Redis restart")
        up.wait_for(
            lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 30, "ready again"
        )
        assert "redis exited with code -9; restarting it in 1 s" in up.output
        assert httpx.get(f"{url}/predict", params=predict, timeout=30).status_code == 200
        up.wait_for(lambda: _model_status(url, training) == "ready", 240, "the job to finish")
        assert (
            httpx.post(f"{url}/fit", json=_fit_body({"epochs": 2}), timeout=30).status_code == 202
        )
        seen += up.descendants()
        up.proc.send_signal(signal.SIGINT)
        assert up.finish(STOP_TIMEOUT_S) == 0, up.output
        assert _still_running(seen) == [], up.output


def _fit_body(training: dict) -> dict:
    return {
        "series": make_series(6, 16),
        "model": SMALL_MODEL,
        "training": {**FAST_TRAINING, **training},
    }


def _fit(url: str, training: dict) -> dict:
    answer = httpx.post(f"{url}/fit", json=_fit_body(training), timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()


def _model_status(url: str, accepted: dict) -> str:
    return str(httpx.get(f"{url}/models/{accepted['model_id']}", timeout=30).json()["status"])


@pytest.mark.slow
def test_up_sigkilled_leaves_nothing_running(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "store"
    with running_up(["--port", str(port), "--workers", "1", "--store", str(store)], _env()) as (
        up,
        seen,
    ):
        up.wait_healthy(port)
        up.wait_for(lambda: any(_is_worker(p) for p in up.descendants()), 30, "worker start")
        time.sleep(2)  # the worker has installed its signal handlers
        seen += up.descendants()
        assert {"redis-server"} <= set(_names(seen))
        up.proc.kill()  # no chance to stop anything itself
        up.proc.wait(10)
        up.wait_for(lambda: _still_running(seen) == [], 60, "every part gone")


@pytest.mark.slow
def test_up_stops_when_a_part_keeps_dying(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "store"
    # prometheus_client refuses a metrics folder that is not there: the API dies at start,
    # every time.
    env = {**_env(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}
    with running_up(["--port", str(port), "--workers", "0", "--store", str(store)], env) as (
        up,
        seen,
    ):
        code = up.finish(120)
        assert code == 1, up.output
        assert "api exited 5 times within" in up.output and "keeps dying" in up.output
        assert _still_running(seen + up.descendants()) == [], up.output


def test_up_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "service.cli",
                "up",
                "--port",
                str(port),
                "--store",
                str(tmp_path),
            ],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stdout
    assert not (tmp_path / "redis").exists()


def test_a_worker_without_redis_says_where_it_looked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.settings import get_settings

    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("ODECAST_REDIS_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["worker", "--burst"]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert f"cannot reach Redis at {url}" in err and "Traceback" not in err
