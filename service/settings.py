"""Every setting of the service and its workers: ``ODECAST_*`` environment variables, read once.

The README's settings table lists these; keep the two in step.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.series import ID_PATTERN

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Settings(BaseSettings):
    """The service's settings. Each field is read from ``ODECAST_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ODECAST_", extra="ignore", frozen=True)

    store: str = Field(
        "odecast-data",
        min_length=1,
        description="The model store: a folder, or s3://bucket/prefix (S3-compatible storage).",
    )
    redis_url: str = Field(DEFAULT_REDIS_URL, description="Redis for the job queue.")
    queue: str = Field("odecast", pattern=ID_PATTERN.pattern, description="RQ queue name.")
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the API listens on.")
    workers: int = Field(1, ge=0, le=64, description="Workers that `odecast up` starts.")
    api_workers: int = Field(
        2, ge=1, le=64, description="API processes (`odecast api`, `odecast up`), one port."
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    api_keys: SecretStr = Field(
        SecretStr(""), description="Comma-separated API keys; empty: no authentication."
    )

    job_timeout_s: int = Field(3600, ge=10, description="A training job is failed after this.")
    job_retries: int = Field(3, ge=0, le=20, description="Reruns of a job whose worker died.")
    job_ttl_s: int = Field(7 * 86400, ge=60, description="How long finished job records stay.")
    checkpoint_every_s: float = Field(30.0, gt=0, description="Training checkpoint interval.")
    progress_every_s: float = Field(1.0, ge=0, description="Progress write interval (job.meta).")
    idempotency_ttl_s: int = Field(86400, ge=1, description="How long Idempotency-Key lasts.")
    worker_torch_threads: int = Field(
        1, ge=1, le=256, description="Torch threads per training job (CPU training)."
    )
    worker_device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$",
        description="Device jobs train on: auto (CUDA if torch sees one), cpu, cuda or cuda:N.",
    )
    worker_heartbeat_s: int = Field(
        10, ge=1, le=300, description="How often a busy worker says it is alive."
    )
    worker_maintenance_s: int = Field(
        30, ge=2, le=3600, description="How often idle workers look for jobs of dead workers."
    )

    max_series: int = Field(10_000, ge=1, le=100_000, description="Most series per request.")
    max_points_per_series: int = Field(
        100_000, ge=2, le=1_000_000, description="Most observations in one series."
    )
    max_points: int = Field(
        1_000_000, ge=2, le=10_000_000, description="Most observations per request, in all."
    )
    max_dims: int = Field(64, ge=1, le=1024, description="Most dimensions per series.")
    max_horizon_spans: float = Field(
        10.0,
        gt=0,
        le=1000,
        description="Farthest prediction, in spans of the context (or of the training series).",
    )
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body; larger ones get 413."
    )
    predict_concurrency: int = Field(
        1, ge=1, le=64, description="Prediction batches computed at once per API process."
    )
    predict_batch_window_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="How long a prediction waits for others of its model before it runs.",
    )
    predict_batch_size: int = Field(
        64, ge=1, le=4096, description="Most predictions in one batch; 1 turns batching off."
    )
    api_torch_threads: int = Field(1, ge=1, le=256, description="Torch threads per API process.")
    model_cache_size: int = Field(8, ge=1, le=1024, description="Models kept loaded by the API.")
    default_samples: int = Field(100, ge=1, description="Posterior samples per prediction.")
    max_samples: int = Field(1000, ge=1, description="Largest n_samples a client may ask.")
    max_predict_times: int = Field(10_000, ge=1, description="Most timestamps per prediction.")
    max_prediction_values: int = Field(
        20_000_000,
        ge=1000,
        description="Most sampled values (n_samples x times x dims) a prediction or batch holds.",
    )
    max_batch_items: int = Field(
        1000, ge=1, le=100_000, description="Most series in one POST /predict/batch."
    )
    max_batch_times: int = Field(
        100_000, ge=1, le=10_000_000, description="Most timestamps in one POST /predict/batch."
    )

    @field_validator("store", mode="before")
    @classmethod
    def _path_as_text(cls, value: object) -> object:
        """A folder given as a Path (``Settings(store=tmp_path)``) is kept as its text."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    def api_key_list(self) -> list[str]:
        """The configured API keys (none: authentication is off)."""
        return [key.strip() for key in self.api_keys.get_secret_value().split(",") if key.strip()]

    def dead_job_after_s(self) -> int:
        """How long after a busy worker's last heartbeat its job counts as abandoned."""
        return 2 * self.worker_heartbeat_s + 5


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
