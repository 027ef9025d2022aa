"""Where the API listens unless told otherwise, for the settings, the CLI and the client alike
(standard library only: the CLI and the client import it without pydantic or torch)."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
