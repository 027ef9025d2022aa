"""API keys: ``ODECAST_API_KEYS`` (comma-separated). When set, every route but ``/healthz`` and
``/readyz`` needs ``X-API-Key``.

Only SHA-256 digests of the keys are kept; a presented key is hashed and compared with every
digest in constant time, so neither the comparison nor the number of keys leaks through timing.
Keys are never logged or written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from .errors import ApiError

HEADER = "X-API-Key"

_scheme = APIKeyHeader(
    name=HEADER, auto_error=False, description="Needed when ODECAST_API_KEYS is set."
)


def key_digests(keys: list[str]) -> tuple[bytes, ...]:
    return tuple(_digest(key) for key in keys)


def is_known(presented: str, digests: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` is one of the keys, comparing against all of them."""
    digest = _digest(presented)
    found = False
    for known in digests:
        found |= hmac.compare_digest(digest, known)
    return found


# The challenge sent with every 401.
CHALLENGE = f'ApiKey header="{HEADER}"'


def refusal(presented: str | None, digests: tuple[bytes, ...]) -> str | None:
    """Why a request carrying ``presented`` (None: no header) is refused, or None if it may pass
    (no keys configured, or a known key). The one rule, used by the middleware that refuses
    before a body is read and by the routes' dependency that documents the scheme."""
    if not digests or (presented is not None and is_known(presented, digests)):
        return None
    problem = "missing" if presented is None else "not a valid key"
    return f"the {HEADER} header is {problem}; send one of the keys in ODECAST_API_KEYS"


async def require_api_key(
    request: Request, presented: Annotated[str | None, Security(_scheme)] = None
) -> None:
    """A dependency: passes when no keys are configured or the request carries a known one.
    ``async``: it never blocks, and a plain ``def`` would cost a thread hop per request."""
    message = refusal(presented, request.app.state.api_key_digests)
    if message is not None:
        raise ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": CHALLENGE})


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
