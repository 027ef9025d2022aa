"""The commands that run the service: ``odecast api`` (uvicorn), ``worker`` (RQ) and ``up``.

``api`` runs one uvicorn process or several sharing the port; ``up`` runs all of it on one
machine under ``supervisor.Supervisor``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from service.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from service.cli.supervisor import Supervisor

if TYPE_CHECKING:
    from service.settings import Settings

# prometheus_client's multiprocess mode reads this variable when it is imported.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


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


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    settings = _settings()
    workers = args.workers if args.workers is not None else settings.api_workers
    config = uvicorn.Config(
        "service.app:create_served_app",
        factory=True,
        host=args.host if args.host is not None else settings.host,
        port=args.port if args.port is not None else settings.port,
        log_level=settings.log_level.lower(),
        workers=workers,
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return EXIT_OK if server.started else EXIT_FAILURE  # e.g. its lifespan failed
    with _shared_metrics(workers):
        supervisor = Multiprocess(config, sockets=[_tcp_listener(config.host, config.port)])
        supervisor.run()
    # uvicorn stops every process when one fails before serving (its exit code 3).
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return EXIT_FAILURE if failed else EXIT_OK


def _tcp_listener(host: str, port: int) -> socket.socket:
    """The socket the API processes share, made with ``IPPROTO_TCP``: uvicorn's own
    (``Config.bind_socket``) leaves the protocol 0, so asyncio never sets ``TCP_NODELAY`` on the
    connections it accepts and every keep-alive request waits ~40 ms for a delayed ACK
    (uvicorn issue 3149; measured: 44 ms per ``/healthz`` instead of 0.6 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """Several API processes write their metrics to files in one folder, which /metrics in any
    of them sums (prometheus_client's multiprocess mode); the folder goes at exit."""
    if workers <= 1 or os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        yield
        return
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="odecast-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


def cmd_worker(args: argparse.Namespace) -> int:
    from worker.main import run_worker

    if args.device is not None:
        from service.settings import get_settings

        # Through the environment: the jobs' work horses read the settings too.
        os.environ["ODECAST_WORKER_DEVICE"] = args.device
        get_settings.cache_clear()
    settings = _settings()
    import redis

    try:
        run_worker(settings, burst=args.burst, light=args.light)
    except redis.ConnectionError as err:
        raise CliError(
            f"cannot reach Redis at {settings.redis_url} ({err}); is it running? "
            "Point ODECAST_REDIS_URL at it"
        ) from None
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings()
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    workers = args.workers if args.workers is not None else settings.workers
    store = _store_location(args.store if args.store is not None else settings.store)
    if port == 0:
        from service.embedded_redis import free_port

        port = free_port(host)
    external_redis = os.environ.get("ODECAST_REDIS_URL") or None
    return Supervisor(
        host=host, port=port, workers=workers, store=store, redis_url=external_redis
    ).run()


def _store_location(location: str) -> str:
    """``location`` as workers started elsewhere will read it: an absolute folder, or S3 as is."""
    from models.store import is_s3_url

    return location if is_s3_url(location) else str(Path(location).expanduser().resolve())
