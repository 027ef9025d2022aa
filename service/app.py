"""The FastAPI app: ``create_app()`` builds it; ``odecast api`` runs ``create_served_app()``
with uvicorn's ``--factory``.

Nothing is built at import time. The lifespan opens the Redis client (lazily connecting, so
the API starts, and serves stored models, while Redis is down) and the model cache.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import Depends, FastAPI

from models.store import open_store

from .auth import key_digests, require_api_key
from .batching import PredictionBatcher
from .console import STATIC_DIR
from .errors import install_error_handlers, responses
from .gate import Gate
from .guards import ApiKeyMiddleware, BodyLimitMiddleware
from .metrics import Metrics, RequestMetricsMiddleware
from .model_cache import ModelCache
from .routes import console, fit, health, jobs, metrics, models, predict, predict_batch
from .settings import Settings, get_settings

REDIS_TIMEOUT_S = 5.0

DESCRIPTION = """\
Interpolate and extrapolate irregularly sampled time series with latent ODEs.

POST a data set to `/fit`; follow the job at `/jobs/{job_id}`; ask `/predict` for any times.
Errors share one shape: `{"error": {"code", "message", "details"}}`.
"""


def create_served_app() -> FastAPI:
    """The API as ``odecast api`` serves it: ``create_app`` that freezes its heap on startup."""
    return create_app(freeze_startup_heap=True)


def create_app(settings: Settings | None = None, *, freeze_startup_heap: bool = False) -> FastAPI:
    """The API, reading its settings from the environment unless given them.

    ``freeze_startup_heap``: once started, keep what startup built out of the garbage
    collector's full passes (``freeze_heap``); for a server process, not for a test process
    that builds many apps (whatever is alive then is never collected)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.store)
        store.prepare()
        store.remove_leftovers()
        connection = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
        app.state.settings = settings
        app.state.store = store
        app.state.redis = connection
        app.state.model_cache = ModelCache(store, settings.model_cache_size)
        app.state.metrics = Metrics(connection, settings)
        app.state.api_key_digests = key_digests(settings.api_key_list())
        app.state.batcher = PredictionBatcher(
            Gate(settings.predict_concurrency),
            settings.predict_batch_window_ms / 1000,
            settings.predict_batch_size,
            settings.max_prediction_values,
        )
        _load_model_code(settings.api_torch_threads)
        if freeze_startup_heap:
            freeze_heap()
        try:
            yield
        finally:
            connection.close()

    app = FastAPI(title="odecast", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Added after the body limit, so outside it: a request without a key is refused before its
    # body is read.
    app.add_middleware(ApiKeyMiddleware, digests=key_digests(settings.api_key_list()))
    # Outermost: the requests those two refuse (401, 413) are counted too, under route
    # "unmatched" (they never reach the router); a flood of them showed nowhere.
    app.add_middleware(RequestMetricsMiddleware)
    keyed = [Depends(require_api_key)]
    routers = (fit, jobs, models, predict, predict_batch, metrics)
    for router in (module.router for module in routers):
        app.include_router(router, dependencies=keyed, responses=responses(401))
    app.include_router(health.router)
    app.include_router(console.router)
    app.mount("/console", console.ConsoleFiles(directory=STATIC_DIR), name="console")
    return app


def _load_model_code(torch_threads: int) -> None:
    """Import torch, the model code and the chart code now, at startup, not in a client's first
    request (and before ``freeze_heap``).

    One torch thread by default: a prediction's ops are too small to gain from more, and idle
    OpenMP threads spin on a loaded machine (``bench/serving.py``)."""
    import torch
    from PIL import Image  # noqa: F401

    import models.latent.predict
    import models.latent.train  # noqa: F401

    from . import plotting  # noqa: F401  (matplotlib: 0.2 s and 51,000 objects)

    torch.set_num_threads(torch_threads)


def freeze_heap() -> None:
    """Collect once, then put every object alive (torch, matplotlib, the app and the model code:
    about 260,000 objects) out of the garbage collector's reach (``gc.freeze``).

    A full collection walked them all, 130 ms holding the GIL, a few times a minute under load:
    the p99 of ``GET /predict`` under 32 clients went from 200-280 to 100-130 ms once they were
    frozen (``bench/serving.py``). What requests allocate later is collected as before."""
    gc.collect()
    gc.freeze()
