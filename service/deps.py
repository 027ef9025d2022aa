"""Dependencies of the routes, as ``Annotated`` aliases. Everything lives on ``app.state``,
built by ``create_app``'s lifespan, so each app (and each test) has its own.

The getters are ``async def`` though they never wait: FastAPI runs a plain ``def`` dependency in
its thread pool, one thread hop per dependency per request, and under 32 clients those hops cost
more CPU than the prediction (``bench/serving.py``). A dependency that blocks must stay ``def``."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import Depends, Request

from models.store import ModelStore

from .batching import PredictionBatcher
from .model_cache import ModelCache
from .settings import Settings


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> ModelStore:
    return request.app.state.store


async def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis


async def get_model_cache(request: Request) -> ModelCache:
    return request.app.state.model_cache


async def get_batcher(request: Request) -> PredictionBatcher:
    return request.app.state.batcher


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
StoreDep = Annotated[ModelStore, Depends(get_store)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]
ModelCacheDep = Annotated[ModelCache, Depends(get_model_cache)]
BatcherDep = Annotated[PredictionBatcher, Depends(get_batcher)]
