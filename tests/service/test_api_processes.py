"""``odecast api --workers N``: several processes on one port serve the same models, and
/metrics in any of them counts the requests of all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from stack_helpers import FAST_TRAINING, SMALL_MODEL, make_series, train_once, wait_healthy

from service.embedded_redis import free_port

REQUESTS = 40


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _count(metrics: str, route: str) -> float:
    pattern = rf'^odecast_http_requests_total\{{[^}}]*route="{re.escape(route)}"[^}}]*\}} (\S+)$'
    return sum(float(m) for m in re.findall(pattern, metrics, flags=re.MULTILINE))


@pytest.mark.skipif(not Path("/proc").exists(), reason="counts processes through /proc")
def test_two_api_processes_share_models_and_metrics(redis_url: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    body = {"series": make_series(), "model": SMALL_MODEL, "training": FAST_TRAINING}
    model_id = train_once(redis_url, store, {"m": body})["m"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODECAST_", "PROMETHEUS_"))}
    env.update(ODECAST_STORE=str(store), ODECAST_REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    port = free_port()
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "api", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(port, api, 90.0)
        assert len(_children(api.pid)) >= 2, log.read_text()  # two servers (and a tracker)
        url = f"http://127.0.0.1:{port}"
        params = {"model_id": model_id, "series_id": "s0", "t": ["1.0", "12.0"], "seed": "3"}

        def ask(_: int) -> dict:
            with httpx.Client(base_url=url, timeout=60) as client:
                response = client.get("/predict", params=params)
                assert response.status_code == 200, response.text
                return response.json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(REQUESTS)))
        means = np.array([a["mean"] for a in answers])  # [requests, T, D]
        np.testing.assert_allclose(
            means, np.broadcast_to(means[0], means.shape), rtol=1e-3, atol=1e-4
        )
        with httpx.Client(base_url=url, timeout=60) as client:
            scrapes = [client.get("/metrics").text for _ in range(6)]
        # Whichever process answers the scrape, it counts every process' requests.
        assert {_count(text, "/predict") for text in scrapes} == {float(REQUESTS)}
        assert "odecast_redis_up 1.0" in scrapes[0]
    finally:
        if api.poll() is None:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(api.pid, signal.SIGKILL)
                api.wait(10)
    assert api.returncode is not None


def test_the_shared_listener_gives_connections_tcp_nodelay() -> None:
    """uvicorn's own listener (proto 0) leaves Nagle on for every accepted connection, and each
    keep-alive request then waits ~40 ms for a delayed ACK; ours is made with IPPROTO_TCP."""
    import asyncio
    import socket

    from service.cli import _tcp_listener

    listener = _tcp_listener("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP
    seen: list[int] = []

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0
