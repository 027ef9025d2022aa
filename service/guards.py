"""ASGI middlewares that answer before the app reads a byte of the body: API keys (401) and
the body size limit (413). Both answer in the API's one error shape."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import CHALLENGE, HEADER, refusal

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/"})  # "/": the console's page
OPEN_PREFIXES = ("/console/",)  # the console's scripts and styles


def is_open(path: str) -> bool:
    """Whether ``path`` is served without a key."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class ApiKeyMiddleware:
    """401 for any request but the open ones (``is_open``) without a known ``X-API-Key``,
    before the body is read. ``digests`` empty: everything passes (no keys configured)."""

    def __init__(self, app: ASGIApp, digests: tuple[bytes, ...]) -> None:
        self.app, self.digests = app, digests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.digests or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        presented = _header(scope, HEADER.lower().encode())
        message = refusal(None if presented is None else presented.decode("latin-1"), self.digests)
        if message is None:
            await self.app(scope, receive, send)
            return
        challenge = (b"www-authenticate", CHALLENGE.encode())
        await _answer(send, 401, "unauthorized", message, [challenge])


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: on Content-Length at once, else while it streams in.

    The body is read whole before the app runs (the app reads it whole anyway), so the answer
    can still be a 413 when a chunked upload crosses the limit; then it is replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(whole, receive), send)

    async def _reject(self, send: Send) -> None:
        message = (
            f"the request body is larger than {self.max_bytes} bytes (ODECAST_MAX_BODY_BYTES); "
            "send fewer or shorter series per request"
        )
        await _answer(send, 413, "payload_too_large", message, [])


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``first`` (the body read already), then the real one."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


async def _answer(
    send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
