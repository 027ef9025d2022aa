"""``POST /fit``: accept a data set and queue its training."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from .. import fitting
from ..deps import RedisDep, SettingsDep, StoreDep
from ..errors import responses
from ..schemas import FitAccepted, FitRequest

router = APIRouter(tags=["fit"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="The same key and body return the same job (remembered for a day).",
    ),
]


@router.post(
    "/fit",
    status_code=202,
    response_model=FitAccepted,
    responses=responses(413, 422, 503),
    summary="Validate a data set, store it and queue the training of a model on it",
)
def post_fit(
    body: FitRequest,
    response: Response,
    store: StoreDep,
    connection: RedisDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> FitAccepted:
    result = fitting.fit(body, store, connection, settings, idempotency_key)
    response.headers["Location"] = result.status_url
    return result
