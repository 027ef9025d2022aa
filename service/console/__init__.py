"""The web console's files (``static/``): plain HTML, CSS and JavaScript modules that the API
serves at ``/`` and ``/console/``, and that talk to the public HTTP API only."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = STATIC_DIR / "index.html"
