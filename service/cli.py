"""The ``odecast`` command: ``odecast up`` (everything on one machine), ``odecast api`` and
``odecast worker`` (the parts alone, for containers).

This module stays light to import: torch, FastAPI and uvicorn are imported inside the subcommand
that needs them, so ``odecast --help`` answers at once. Exit codes: 0 on a clean shutdown, 2 for
bad usage or bad ``ODECAST_*`` settings, 1 for a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.embedded_redis import EmbeddedRedis
    from service.settings import Settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# `odecast up`: how long the parts get to stop after SIGTERM before they are killed. Workers get
# long enough to checkpoint the job they are running (the job is requeued and resumes later).
WORKER_GRACE_S = 60.0
API_GRACE_S = 15.0
REDIS_STARTUP_TIMEOUT_S = 15.0
# A worker that dies is restarted after a backoff that doubles up to the maximum; it is reset once
# a worker has run for WORKER_STABLE_S.
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
WORKER_STABLE_S = 30.0
POLL_S = 0.2


class CliError(Exception):
    """A failure to report in one line; ``exit_code`` says which kind."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- argument parsing


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0-65535")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} workers: use 0 to 64")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odecast",
        description="Latent-ODE interpolation and extrapolation of irregular time series, "
        "as a REST service. Settings come from ODECAST_* environment variables; options "
        "given here override them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything on this machine: Redis (unless ODECAST_REDIS_URL is set), "
        "the API and workers; Ctrl-C stops all of them",
        description="Run the whole service on this machine. Starts an embedded Redis with its "
        "persistence in the store (unless ODECAST_REDIS_URL is set), the API and N workers, "
        "and shows their logs in this terminal. Ctrl-C (or SIGTERM) stops them in order; "
        "workers get time to checkpoint their jobs.",
    )
    up.add_argument("--host", help="address the API listens on (default: ODECAST_HOST)")
    up.add_argument("--port", type=_port, help="port of the API (default: ODECAST_PORT)")
    up.add_argument(
        "--workers", type=_workers, help="number of workers, 0-64 (default: ODECAST_WORKERS)"
    )
    up.add_argument("--store", type=Path, help="folder of the model store (default: ODECAST_STORE)")
    up.set_defaults(func=cmd_up)

    api = sub.add_parser("api", help="run the HTTP API alone (uvicorn)")
    api.add_argument("--host", help="address to listen on (default: ODECAST_HOST)")
    api.add_argument("--port", type=_port, help="port to listen on (default: ODECAST_PORT)")
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="run one training worker alone (RQ)")
    worker.add_argument(
        "--burst", action="store_true", help="exit once the queue is empty instead of waiting"
    )
    worker.set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return func(args)
    except CliError as exc:
        print(f"odecast: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _settings() -> Settings:
    """This process' settings; invalid ODECAST_* variables are a usage error."""
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"ODECAST_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise CliError(f"invalid settings: {problems}", EXIT_USAGE) from None


# --------------------------------------------------------------------------- api, worker


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host if args.host is not None else settings.host,
        port=args.port if args.port is not None else settings.port,
        log_level=settings.log_level.lower(),
    )
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from worker.main import run_worker

    run_worker(_settings(), burst=args.burst)
    return EXIT_OK


# --------------------------------------------------------------------------- up


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings()
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    workers = args.workers if args.workers is not None else settings.workers
    store = (args.store if args.store is not None else settings.store).expanduser().resolve()
    if port == 0:
        from service.embedded_redis import free_port

        port = free_port(host)
    external_redis = os.environ.get("ODECAST_REDIS_URL") or None
    return Supervisor(
        host=host, port=port, workers=workers, store=store, redis_url=external_redis
    ).run()


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _redact(url: str) -> str:
    """``url`` without its password, for printing."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username or ''}:***@{parts.hostname}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparseable URL>"


class Child:
    """One part of ``odecast up``: a child process in its own session, whose output goes to the
    terminal line by line behind a tag."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], emit: Callable[[str, str], None]
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.emit = emit
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None
        self.started_at = 0.0
        self.backoff_s = RESTART_BACKOFF_S
        self.restart_at: float | None = None  # set while a restart is pending
        self.exit_reported = False

    def start(self) -> None:
        # start_new_session: a Ctrl-C in the terminal reaches only `odecast up`, which stops the
        # parts in order; each part leads its own process group, so that killing the group also
        # ends what it forked (RQ's work horses).
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        self.exit_reported = False
        self.reader = threading.Thread(
            target=self._pump, args=(self.proc.stdout,), name=f"odecast-{self.name}", daemon=True
        )
        self.reader.start()

    def _pump(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for raw in iter(stream.readline, b""):
                self.emit(self.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the part's main process only (as ``docker stop`` does)."""
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill_group(self) -> None:
        """SIGKILL the part's process group (RQ work horses have groups of their own; they stop
        when their worker dies, see worker.main)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def join_reader(self, timeout: float = 5.0) -> None:
        if self.reader is not None:
            self.reader.join(timeout)


class Supervisor:
    """``odecast up``: starts Redis (unless one is given), the API and the workers, shows their
    logs, restarts workers that die and stops everything in order on Ctrl-C or SIGTERM."""

    def __init__(
        self, *, host: str, port: int, workers: int, store: Path, redis_url: str | None
    ) -> None:
        self.host = host
        self.port = port
        self.n_workers = workers
        self.store = store
        self.redis_url = redis_url
        self.redis: EmbeddedRedis | None = None
        self.redis_child: Child | None = None
        self.api: Child | None = None
        self.workers: list[Child] = []
        self.tag_width = max(8, len(f"worker-{workers}"))
        self._out_lock = threading.Lock()
        self._stop = threading.Event()
        self._force = threading.Event()
        self._stop_reason = ""

    # -- output

    def emit(self, name: str, line: str) -> None:
        text = f"{name:<{self.tag_width}} | {line}\n"
        with self._out_lock:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass

    def say(self, line: str) -> None:
        self.emit("odecast", line)

    # -- signals

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            self._force.set()
            return
        self._stop_reason = signal.Signals(signum).name
        self._stop.set()

    def _install_signal_handlers(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    # -- run

    def run(self) -> int:
        previous = self._install_signal_handlers()
        exit_code = EXIT_OK
        try:
            exit_code = self._run()
        except CliError as exc:
            self.say(f"error: {exc}")
            exit_code = exc.exit_code
        except Exception as exc:  # report, then still stop whatever was started
            self.say(f"error: {type(exc).__name__}: {exc}")
            exit_code = EXIT_FAILURE
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.say(f"stopped (exit code {exit_code})")
        return exit_code

    def _run(self) -> int:
        shown = _display_host(self.host)
        self._check_port_free()
        self.say(
            f"API on http://{shown}:{self.port} (docs at http://{shown}:{self.port}/docs), "
            f"store in {self.store}, {self.n_workers} worker(s); Ctrl-C stops everything"
        )
        self.store.mkdir(parents=True, exist_ok=True)
        if self.redis_url is None:
            self.redis_url = self._start_redis()
            self.say(
                f"embedded Redis at {self.redis_url}, persistence in {Path(self.store, 'redis')}"
            )
        else:
            self.say(f"using the Redis at {_redact(self.redis_url)} (ODECAST_REDIS_URL)")
        if self._stop.is_set():
            return EXIT_OK

        env = dict(os.environ)
        env.update(
            ODECAST_REDIS_URL=self.redis_url, ODECAST_STORE=str(self.store), PYTHONUNBUFFERED="1"
        )
        cli = [sys.executable, "-m", "service.cli"]
        self.api = Child(
            "api", [*cli, "api", "--host", self.host, "--port", str(self.port)], env, self.emit
        )
        self.api.start()
        for i in range(1, self.n_workers + 1):
            worker = Child(f"worker-{i}", [*cli, "worker"], env, self.emit)
            worker.start()
            self.workers.append(worker)
        return self._supervise(shown)

    def _check_port_free(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                raise CliError(
                    f"cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                    "is another server running there? Choose another --port"
                ) from None

    def _start_redis(self) -> str:
        import redis

        from models.store import Store
        from service.embedded_redis import EmbeddedRedis, free_port

        server = EmbeddedRedis(Store(self.store).redis_dir)
        server.data_dir.mkdir(parents=True, exist_ok=True)
        server.port = free_port(server.host)
        self.redis = server
        child = Child("redis", server.command(), dict(os.environ), self.emit)
        child.start()
        self.redis_child = child
        server.process = child.proc  # EmbeddedRedis.stop() shuts it down, saving the AOF
        client = redis.Redis.from_url(server.url, socket_timeout=1)
        deadline = time.monotonic() + REDIS_STARTUP_TIMEOUT_S
        try:
            while True:
                if not child.alive():
                    raise CliError(
                        f"redis-server exited with code {child.returncode()} on port "
                        f"{server.port}; is {server.data_dir} writable?"
                    )
                try:
                    client.ping()
                    return server.url
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise CliError(
                            f"redis-server did not answer on port {server.port} within "
                            f"{REDIS_STARTUP_TIMEOUT_S:.0f} s"
                        ) from None
                    if self._stop.wait(0.05):
                        return server.url
        finally:
            client.close()

    def _supervise(self, shown_host: str) -> int:
        assert self.api is not None
        ready = False
        while not self._stop.wait(POLL_S):
            if self.redis_child is not None and not self.redis_child.alive():
                self.say(f"redis-server exited with code {self.redis_child.returncode()}; stopping")
                return EXIT_FAILURE
            if not self.api.alive():
                self.say(f"the API exited with code {self.api.returncode()}; stopping")
                return EXIT_FAILURE
            if not ready and self._listening():
                ready = True
                self.say(f"ready: http://{shown_host}:{self.port} (docs at /docs)")
            now = time.monotonic()
            for worker in self.workers:
                self._tend_worker(worker, now)
        self.say(f"{self._stop_reason or 'stop'} received: stopping")
        return EXIT_OK

    def _tend_worker(self, worker: Child, now: float) -> None:
        if worker.alive():
            return
        if worker.restart_at is None:
            if now - worker.started_at >= WORKER_STABLE_S:
                worker.backoff_s = RESTART_BACKOFF_S
            worker.kill_group()  # anything it forked dies with it
            worker.join_reader(1.0)
            worker.restart_at = now + worker.backoff_s
            self.say(
                f"{worker.name} exited with code {worker.returncode()}; "
                f"restarting it in {worker.backoff_s:.0f} s"
            )
            worker.backoff_s = min(worker.backoff_s * 2, RESTART_BACKOFF_MAX_S)
        elif now >= worker.restart_at:
            worker.start()
            self.say(f"{worker.name} restarted (pid {worker.pid})")

    def _listening(self) -> bool:
        host = _display_host(self.host).strip("[]")
        try:
            with socket.create_connection((host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    # -- shutdown

    def _shutdown(self) -> None:
        """SIGTERM to the workers and the API, wait for them (workers checkpoint their jobs), kill
        what remains, then stop Redis. Nothing started here outlives this."""
        parts = [c for c in (*self.workers, self.api) if c is not None]
        for part in parts:
            part.signal(signal.SIGTERM)
        start = time.monotonic()
        grace = {id(p): WORKER_GRACE_S for p in self.workers}
        if self.api is not None:
            grace[id(self.api)] = API_GRACE_S
        announced = False
        while True:
            elapsed = time.monotonic() - start
            busy = [w for w in self.workers if w.alive()]
            if busy and not announced and elapsed > 1.0:
                announced = True
                self.say(
                    f"waiting up to {WORKER_GRACE_S:.0f} s for {len(busy)} worker(s) to stop "
                    "(a running job checkpoints and is requeued); Ctrl-C again to kill them now"
                )
            for part in parts:
                if part.alive() and (self._force.is_set() or elapsed > grace[id(part)]):
                    reason = (
                        "on request" if self._force.is_set() else f"after {grace[id(part)]:.0f} s"
                    )
                    self.say(f"{part.name} did not stop; killing it {reason}")
                    part.kill_group()
            if not any(p.alive() for p in parts):
                break
            time.sleep(0.1)
        for part in parts:
            part.kill_group()  # also ends forked work horses that outlived their worker
        for part in parts:
            part.join_reader()
        if self.redis is not None and self.redis_child is not None:
            self.redis.stop()  # SIGTERM: redis-server flushes its AOF and exits
            self.redis_child.kill_group()
            self.redis_child.join_reader()


if __name__ == "__main__":
    raise SystemExit(main())
