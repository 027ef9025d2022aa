"""``/models``: the registry of trained (and training) models."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Path, Response

from models.store import CorruptFileError, UnknownModelError

from ..deps import ModelCacheDep, RedisDep, SettingsDep, StoreDep
from ..errors import ApiError, not_found, responses
from ..queueing import fetch_job, request_cancel
from ..schemas import ID_REGEX, ModelList, ModelOut

router = APIRouter(tags=["models"])

ModelId = Annotated[str, Path(pattern=ID_REGEX, description="As returned by POST /fit.")]


def model_out(record: dict[str, Any]) -> ModelOut:
    return ModelOut(**{k: record[k] for k in ModelOut.model_fields if k in record})


@router.get("/models", response_model=ModelList)
def list_models(store: StoreDep) -> ModelList:
    """Every model in the store, oldest first (the store, not Redis, is the registry)."""
    return ModelList(models=[model_out(r) for r in store.records()])


@router.get("/models/{model_id}", response_model=ModelOut, responses=responses(404, 422))
def get_model(model_id: ModelId, store: StoreDep) -> ModelOut:
    try:
        return model_out(store.record(model_id))
    except UnknownModelError:
        raise not_found("model", model_id) from None
    except CorruptFileError as err:
        raise ApiError(409, "model_unreadable", str(err)) from err


@router.delete("/models/{model_id}", status_code=204, responses=responses(404, 422))
def delete_model(
    model_id: ModelId,
    store: StoreDep,
    cache: ModelCacheDep,
    connection: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Remove the model and its files; a job still training it is cancelled."""
    try:
        job_id = store.record(model_id).get("job_id")
    except UnknownModelError:
        raise not_found("model", model_id) from None
    except CorruptFileError:
        job_id = None
    if isinstance(job_id, str):
        # A worker also stops on its own once the folder is gone; without Redis, that suffices.
        with contextlib.suppress(redis.RedisError):
            job = fetch_job(connection, job_id)
            if job is not None:
                request_cancel(connection, job, settings)
    if not store.delete_model(model_id):
        raise not_found("model", model_id)
    cache.forget(model_id)
    return Response(status_code=204)
