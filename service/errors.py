"""The API's one error shape, ``{"error": {"code", "message", "details"}}``, and its handlers."""

from __future__ import annotations

import errno
import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.store import StoreUnavailableError

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_input"])
    message: str = Field(examples=["series 'a', index 3: times must be unique"])
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """What every 4xx and 5xx answer carries."""

    error: ErrorBody


class ApiError(Exception):
    """An error to answer with: HTTP status, a stable machine code and a message for people."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


def not_found(what: str, value: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} {value!r}")


def invalid_input(loc: str, message: str, code: str = "invalid_input") -> ApiError:
    """422 for one problem at ``loc`` (e.g. ``query.num``, ``body.series.times``)."""
    return ApiError(422, code, message, [{"loc": loc, "msg": message}])


def queue_unavailable() -> ApiError:
    return ApiError(
        503,
        "queue_unavailable",
        "the job queue (Redis) is not reachable; predictions from stored models still work. "
        "Try again shortly.",
        headers={"Retry-After": "5"},
    )


# What writing a local store's files fails with when its disk is full or read-only.
STORE_FULL_OR_READ_ONLY = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def store_unavailable() -> ApiError:
    return ApiError(
        503,
        "store_unavailable",
        "the model store is not reachable now (see /readyz and the API's log); try again shortly",
        headers={"Retry-After": "5"},
    )


# The standard documented answers of an endpoint, for OpenAPI.
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


def error_response(error: ApiError) -> JSONResponse:
    body = ErrorBody(code=error.code, message=error.message, details=error.details)
    content = ErrorResponse(error=body).model_dump()
    return JSONResponse(content, status_code=error.status, headers=error.headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "unavailable",
}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, ours, FastAPI's and unexpected ones, in the one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [_validation_detail(e) for e in error.errors()]
        first = details[0] if details else {"loc": "", "msg": "invalid request"}
        message = f"{first['loc']}: {first['msg']}" if first["loc"] else first["msg"]
        if len(details) > 1:
            message += f" (and {len(details) - 1} more problem(s), see details)"
        return error_response(ApiError(422, "invalid_input", message, details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # FastAPI's answer to a body it cannot decode
            message = f"the body cannot be read as JSON: {error.detail}"
            return error_response(invalid_input("body", message))
        code = _HTTP_CODES.get(error.status_code, "error")
        headers = dict(error.headers) if error.headers else None
        api_error = ApiError(error.status_code, code, str(error.detail), headers=headers)
        return error_response(api_error)

    @app.exception_handler(redis.RedisError)
    async def _redis(request: Request, error: redis.RedisError) -> JSONResponse:
        log.warning("redis unavailable: %s", error)
        return error_response(queue_unavailable())

    @app.exception_handler(StoreUnavailableError)
    async def _store(request: Request, error: StoreUnavailableError) -> JSONResponse:
        log.warning("model store unavailable: %s", error)
        return error_response(store_unavailable())

    @app.exception_handler(OSError)
    async def _os_error(request: Request, error: OSError) -> JSONResponse:
        # a local store on a full or read-only disk: the client may try again later
        if error.errno in STORE_FULL_OR_READ_ONLY:
            log.warning("model store cannot be written: %s", error)
            return error_response(store_unavailable())
        return _internal_error(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        return _internal_error(request)


def _internal_error(request: Request) -> JSONResponse:
    """500: the traceback goes to the log (called while the error is handled), nothing of it
    to the client."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(ApiError(500, "internal_error", "internal error; see the logs"))


def _validation_detail(error: dict[str, Any]) -> dict[str, Any]:
    """A pydantic error as ``{"loc": "body.series[0].times[3]", "msg": ..., "type": ...}``."""
    loc = ""
    for part in error.get("loc", ()):
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    return {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
