"""``odecast up``'s ``Supervisor``: starts the parts, restarts one that dies, stops them in order.

The parts are Redis (unless ``ODECAST_REDIS_URL`` names one), the API and the workers, each a
``children.Child``; a part that dies is restarted after a backoff, and one that keeps dying
stops everything.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from service.cli.children import Child
from service.cli.errors import EXIT_FAILURE, EXIT_OK, CliError

if TYPE_CHECKING:
    from service.embedded_redis import EmbeddedRedis

# `odecast up`: how long the parts get to stop after SIGTERM before they are killed. Workers get
# long enough to checkpoint the job they are running (the job is requeued and resumes later).
WORKER_GRACE_S = 60.0
API_GRACE_S = 15.0
REDIS_STARTUP_TIMEOUT_S = 15.0
# A part that dies (Redis, the API, a worker) is restarted after a backoff that doubles up to the
# maximum; it is reset once the part has run for WORKER_STABLE_S.
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
WORKER_STABLE_S = 30.0
# A part that dies this many times without running WORKER_STABLE_S in between stops `odecast up`.
MAX_QUICK_DEATHS = 5
POLL_S = 0.2  # how often the supervisor looks at its parts (and at the stop signal)


class Supervisor:
    """``odecast up``: starts Redis (unless one is given), the API and the workers, shows their
    logs, restarts any part that dies and stops everything in order on Ctrl-C or SIGTERM."""

    def __init__(
        self, *, host: str, port: int, workers: int, store: str, redis_url: str | None
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
            f"API and web console on http://{shown}:{self.port}/ (API docs at /docs), "
            f"store in {self.store}, {self.n_workers} worker(s)"
            + (" and a light one for provisional answers" if self.n_workers else "")
            + "; Ctrl-C stops everything"
        )
        from models.store import open_store

        open_store(self.store).prepare()
        if self.redis_url is None:
            self.redis_url = self._start_redis()
            self.say(f"embedded Redis at {self.redis_url}, persistence in {self._redis_dir()}")
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
            "api",
            [*cli, "api", "--host", self.host, "--port", str(self.port)],
            env,
            self.emit,
            backoff_s=RESTART_BACKOFF_S,
        )
        self.api.start()
        for i in range(1, self.n_workers + 1):
            worker = Child(
                f"worker-{i}", [*cli, "worker"], env, self.emit, backoff_s=RESTART_BACKOFF_S
            )
            worker.start()
            self.workers.append(worker)
        if self.n_workers:  # provisional answers within seconds, whatever the workers train
            light = Child(
                "light", [*cli, "worker", "--light"], env, self.emit, backoff_s=RESTART_BACKOFF_S
            )
            light.start()
            self.workers.append(light)
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

    def _redis_dir(self) -> Path:
        """Where the embedded Redis keeps its data: in the store's folder, or, for a store in
        object storage, in ./odecast-redis."""
        from models.store import Store, is_s3_url

        return (
            Path("odecast-redis").resolve()
            if is_s3_url(self.store)
            else Store(self.store).redis_dir
        )

    def _start_redis(self) -> str:
        import redis

        from service.embedded_redis import EmbeddedRedis, free_port

        server = EmbeddedRedis(self._redis_dir())
        server.data_dir.mkdir(parents=True, exist_ok=True)
        server.port = free_port(server.host)
        self.redis = server
        child = Child(
            "redis", server.command(), dict(os.environ), self.emit, backoff_s=RESTART_BACKOFF_S
        )
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
        """Restart whatever dies (Redis from its AOF, the API, the workers), with a backoff, while
        the rest keeps serving; stop when a part keeps dying."""
        assert self.api is not None
        ready = False
        while not self._stop.wait(POLL_S):
            now = time.monotonic()
            parts = [c for c in (self.redis_child, self.api, *self.workers) if c is not None]
            for part in parts:
                if not self._tend(part, now):
                    return EXIT_FAILURE
            if not ready and self._listening():
                ready = True
                self.say(f"ready: http://{shown_host}:{self.port}/ (console; API docs at /docs)")
        self.say(f"{self._stop_reason or 'stop'} received: stopping")
        return EXIT_OK

    def _tend(self, part: Child, now: float) -> bool:
        """Restart ``part`` if it died (after its backoff); False when it keeps dying."""
        if part.alive():
            return True
        if part.restart_at is None:
            if now - part.started_at >= WORKER_STABLE_S:
                part.backoff_s = RESTART_BACKOFF_S
                part.deaths.clear()
            part.deaths.append(now)
            part.kill_group()  # anything it forked dies with it (work horses, API processes)
            part.join_reader(1.0)
            if len(part.deaths) >= MAX_QUICK_DEATHS:
                self.say(
                    f"{part.name} exited {len(part.deaths)} times within "
                    f"{now - part.deaths[0]:.0f} s (last exit code {part.returncode()}); it "
                    "keeps dying, so stopping everything: see its output above"
                )
                return False
            part.restart_at = now + part.backoff_s
            self.say(
                f"{part.name} exited with code {part.returncode()}; "
                f"restarting it in {part.backoff_s:.0f} s"
            )
            part.backoff_s = min(part.backoff_s * 2, RESTART_BACKOFF_MAX_S)
        elif now >= part.restart_at:
            part.start()
            if part is self.redis_child and self.redis is not None:
                self.redis.process = part.proc  # replays its AOF: queued jobs are kept
            self.say(f"{part.name} restarted (pid {part.pid})")
        return True

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
