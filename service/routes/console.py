"""The web console: its page at ``/`` and its scripts and styles under ``/console/``
(``ConsoleFiles``, mounted by ``create_app``); neither needs an API key (the page asks for one
and sends it with its calls)."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from ..console import INDEX

# The page runs only its own files and is never framed (clickjacking its Delete buttons);
# inline styles are let through for the chart library, which sizes its elements with them.
CONSOLE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    # asked again on every load (a 304 while unchanged): an upgrade reaches the browser at once
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console_page() -> FileResponse:
    return FileResponse(INDEX, headers=CONSOLE_HEADERS)


class ConsoleFiles(StaticFiles):
    """The console's static files, with ``CONSOLE_HEADERS``."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, *args: Any
    ) -> Response:
        response = super().file_response(full_path, stat_result, *args)
        response.headers.update(CONSOLE_HEADERS)
        return response
