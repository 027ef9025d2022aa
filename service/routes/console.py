"""``GET /``: the web console's page. Its scripts and styles are mounted at ``/console/`` by
``create_app``; neither needs an API key (the page asks for one and sends it with its calls)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ..console import INDEX

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console_page() -> FileResponse:
    # no-cache: a browser asks again (and gets a 304 while unchanged) after an upgrade
    return FileResponse(INDEX, headers={"Cache-Control": "no-cache"})
