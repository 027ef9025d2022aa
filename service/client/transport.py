"""``HttpSession``, the HTTP side of ``Client``: retries, Retry-After, JSON bodies, URL paths."""

from __future__ import annotations

import json
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import quote

import httpx

from service.client.errors import ClientError, ServerUnavailable, _api_error, _unavailable
from service.client.values import _numpy, _time_value
from service.defaults import DEFAULT_URL


def _package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "0+unknown"
    try:
        return version("odecast")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _package_version()
USER_AGENT = f"odecast-client/{__version__}"

# What a restarting server or its proxy answers: worth retrying (other errors never are).
RETRY_STATUSES = frozenset({502, 503, 504})
DEFAULT_MAX_RETRY_AFTER_S = 30.0
MAX_BACKOFF_S = 30.0


def _json_default(obj: Any) -> Any:
    """What json cannot write itself: numpy arrays and scalars (in settings or dicts sent as
    given), timezone-aware datetimes as ISO-8601."""
    np = _numpy()
    if np is not None:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
    if isinstance(obj, datetime):
        return _time_value(obj, "a datetime")
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _dumps(body: Any) -> bytes:
    """A request body as compact JSON (series can be large)."""
    return json.dumps(body, separators=(",", ":"), default=_json_default).encode()


def _segment(value: str) -> str:
    """An id as one path segment (the server checks it; this only keeps it one segment). An
    empty id would name the collection instead (``DELETE /models/`` answers a redirect)."""
    if not str(value):
        raise ClientError("an id must not be empty")
    return quote(str(value), safe="")


def header_safe(value: str, what: str) -> str:
    """``value`` if it can travel in an HTTP header (printable ASCII), else a ValueError."""
    if not (value.isascii() and value.isprintable()):
        raise ValueError(f"{what} must be printable ASCII (it travels in an HTTP header)")
    return value


def _retry_after(value: str | None) -> float | None:
    """A Retry-After header's delay in seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpSession:
    """Requests to the API: JSON in and out, the API key, retries. ``Client`` is one.

    ``retries`` more attempts are made after a connection error or a 502/503/504, waiting
    ``backoff_s * 2**attempt`` seconds (or the server's Retry-After, at most
    ``max_retry_after_s``) in between. Other errors are never retried; they are raised as
    ``ApiError``."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if retries < 0 or backoff_s < 0 or max_retry_after_s < 0:
            raise ValueError("retries, backoff_s and max_retry_after_s must not be negative")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key is not None:
            headers["X-API-Key"] = header_safe(api_key, "the API key")
        try:
            self._http = httpx.Client(
                base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
            )
        except httpx.InvalidURL as err:
            raise ValueError(f"base_url {base_url!r} is not a URL: {err}") from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before the next attempt: the server's Retry-After if it gave one (at most
        ``max_retry_after_s``), else exponential backoff (at most ``MAX_BACKOFF_S``)."""
        asked = _retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after_s)
        return min(self.backoff_s * 2**attempt, MAX_BACKOFF_S)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send, retrying connection errors and 502/503/504; raise ApiError for other errors."""
        headers = dict(headers or {})
        content = None
        if body is not None:
            content = _dumps(body)
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                response = self._http.request(  # a tuple: httpx's type is covariant in it
                    method, path, params=tuple(params or ()), content=content, headers=headers
                )
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as err:
                raise ClientError(f"{method} {self.base_url}{path}: {err}") from err
            except httpx.TransportError as err:
                if attempt >= self.retries:
                    raise ServerUnavailable(
                        f"cannot reach {self.base_url} ({method} {path}): "
                        f"{type(err).__name__}: {err or 'no answer'} "
                        f"(after {attempt + 1} attempt(s))",
                        message=f"{type(err).__name__}: {err}",
                        attempts=attempt + 1,
                    ) from err
                delay = self._delay(attempt, None)
            else:
                if response.status_code in RETRY_STATUSES:
                    if attempt >= self.retries:
                        raise _unavailable(method, path, response, attempt + 1)
                    delay = self._delay(attempt, response.headers.get("Retry-After"))
                elif response.is_error:
                    raise _api_error(response)
                elif response.is_redirect:  # the API never redirects: not its answer
                    raise ClientError(
                        f"{method} {path}: HTTP {response.status_code} redirect to "
                        f"{response.headers.get('location')!r}; is the URL odecast's API?"
                    )
                else:
                    return response
            time.sleep(delay)
            attempt += 1

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``_request``'s answer as JSON; a success that is not JSON (a proxy's page, say) is a
        ClientError."""
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as err:
            raise ClientError(
                f"{method} {path}: HTTP {response.status_code} answer is not JSON: "
                f"{response.text[:200]!r}"
            ) from err
