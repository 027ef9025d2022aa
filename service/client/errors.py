"""The client's exceptions (ClientError, ApiError, ServerUnavailable) built from error answers."""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """Base of every error this client raises (besides ValueError for bad arguments and
    TimeoutError from ``wait``)."""


class ApiError(ClientError):
    """The server answered with an error: its HTTP status, its machine code (None when the
    answer was not the API's JSON error shape), its message and details."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        super().__init__(str(self))

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"HTTP {self.status}{code}: {self.message}"


class ServerUnavailable(ClientError):
    """The server could not be reached, or kept answering 502/503/504, after every retry.

    ``status``, ``code`` and ``message`` are the last answer's (``status`` is None when the
    connection itself failed; ``message`` is then the transport error); ``attempts`` counts the
    requests made."""

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        details: list[dict[str, Any]] | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.attempts = attempts


def _error_parts(response: httpx.Response) -> tuple[str | None, str, list[dict[str, Any]]]:
    """The code, message and details of an error answer (the API's JSON shape, or text)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            details = error.get("details")
            return (
                str(error.get("code")) if error.get("code") else None,
                str(error["message"]),
                details if isinstance(details, list) else [],
            )
        if "detail" in body:
            return None, str(body["detail"]), []
    text = response.text.strip()
    return None, text[:2000] if text else response.reason_phrase, []


def _api_error(response: httpx.Response) -> ApiError:
    code, message, details = _error_parts(response)
    return ApiError(response.status_code, code, message, details)


def _unavailable(method: str, path: str, response: httpx.Response, attempts: int) -> Exception:
    code, message, details = _error_parts(response)
    label = f" {code}" if code else ""
    return ServerUnavailable(
        f"{method} {path}: HTTP {response.status_code}{label}: {message} "
        f"(after {attempts} attempt(s))",
        status=response.status_code,
        code=code,
        message=message,
        details=details,
        attempts=attempts,
    )
