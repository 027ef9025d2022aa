"""``/healthz`` (the process answers) and ``/readyz`` (Redis and the store work): no key needed."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ..deps import RedisDep, StoreDep
from ..schemas import Health

router = APIRouter(tags=["health"])


# HEAD too: load balancers and uptime checks probe with it
@router.api_route("/healthz", methods=["GET", "HEAD"], response_model=Health)
async def healthz() -> Health:
    # async: it answers on the event loop even when every thread of the pool is predicting.
    return Health(status="ok")


@router.api_route(
    "/readyz", methods=["GET", "HEAD"], response_model=Health, responses={503: {"model": Health}}
)
def readyz(connection: RedisDep, store: StoreDep) -> Response:
    checks = {"redis": "ok", "store": "ok"}
    try:
        connection.ping()
    except redis.RedisError as err:
        checks["redis"] = f"unreachable: {err}"
    if problem := store.problem():
        checks["store"] = problem
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
