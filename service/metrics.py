"""Prometheus metrics: requests and latencies per route, queue length and jobs by status.

Each app has its own registry (no global state), so several apps can live in one process.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq.registry import (
    CanceledJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .queueing import training_queue
from .settings import Settings

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class QueueCollector(Collector):
    """Reads the queue's state from Redis at scrape time; reports ``odecast_redis_up 0``
    instead of failing when Redis is down."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.connection, self.settings = connection, settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("odecast_redis_up", "1 if Redis answered this scrape")
        try:
            counts = self._counts()
        except redis.RedisError as err:
            log.warning("metrics: redis unavailable: %s", err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        length = GaugeMetricFamily("odecast_queue_length", "Training jobs waiting for a worker")
        length.add_metric([], counts["queued"])
        yield length
        jobs = GaugeMetricFamily("odecast_jobs", "Training jobs by RQ status", labels=["status"])
        for status, count in counts.items():
            jobs.add_metric([status], count)
        yield jobs

    def _counts(self) -> dict[str, int]:
        queue = training_queue(self.connection, self.settings)
        registries = {
            "started": StartedJobRegistry,
            "finished": FinishedJobRegistry,
            "failed": FailedJobRegistry,
            "canceled": CanceledJobRegistry,
            "scheduled": ScheduledJobRegistry,
        }
        counts = {"queued": queue.count}
        for status, kind in registries.items():
            registry = kind(queue.name, connection=self.connection, serializer=queue.serializer)
            counts[status] = registry.count
        return counts


class Metrics:
    """The app's request metrics and the registry /metrics reads.

    With ``PROMETHEUS_MULTIPROC_DIR`` set (``odecast api --workers N``), every API process writes
    its counts to files there and a scrape in any of them sums all processes'."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        own = None if shared else CollectorRegistry()  # shared: the files are the registry
        self.requests = Counter(
            "odecast_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "odecast_http_request_duration_seconds",
            "HTTP request latency by method and route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.registry = own or CollectorRegistry()
        if shared:
            multiprocess.MultiProcessCollector(self.registry)
        self.registry.register(QueueCollector(connection, settings))


class RequestMetricsMiddleware:
    """Counts every HTTP request by method, route template and status, and times it.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) runs each
    request in a task group with a streamed copy of the response, which cost about a fifth of
    the API's CPU under 32 clients (``bench/serving.py``, ``py-spy``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers: an exception on its way out is a 500

        async def send_seeing_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seeing_status)
        finally:
            # The router put the matched route into this same scope on the way in.
            template = getattr(scope.get("route"), "path", "unmatched")
            metrics: Metrics = scope["app"].state.metrics
            method = scope["method"]
            metrics.requests.labels(method, template, str(status)).inc()
            metrics.latency.labels(method, template).observe(time.perf_counter() - started)
