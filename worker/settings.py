"""The settings a training worker reads: ``ODECAST_*`` environment variables.

The API's settings (`service.settings.Settings`) extend these, so one environment configures
both; the worker never imports the API. `docs/settings.md` (the settings table) lists them all.
"""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.series import ID_PATTERN

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class WorkerSettings(BaseSettings):
    """What the workers and the jobs they run read. Each field is read from ``ODECAST_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ODECAST_", extra="ignore", frozen=True)

    store: str = Field(
        "odecast-data",
        min_length=1,
        description="The model store: a folder, or s3://bucket/prefix (S3-compatible storage).",
    )
    redis_url: str = Field(
        DEFAULT_REDIS_URL,
        pattern=r"^(redis|rediss|unix)://\S+$",
        description="Redis for the job queue: redis://, rediss:// or unix://.",
    )
    queue: str = Field("odecast", pattern=ID_PATTERN.pattern, description="RQ queue name.")
    log_level: str = Field(
        "info",
        pattern=r"(?i)^(debug|info|warning|error|critical)$",
        description="debug, info, warning, error or critical (any case).",
    )
    job_timeout_s: int = Field(3600, ge=10, description="A training job is failed after this.")
    provisional_timeout_s: int = Field(
        600, ge=10, description="A provisional fit (the cheap candidates) is failed after this."
    )
    job_retries: int = Field(3, ge=0, le=20, description="Reruns of a job whose worker died.")
    job_ttl_s: int = Field(7 * 86400, ge=60, description="How long finished job records stay.")
    checkpoint_every_s: float = Field(30.0, gt=0, description="Training checkpoint interval.")
    progress_every_s: float = Field(1.0, ge=0, description="Progress write interval (job.meta).")
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

    @field_validator("store", mode="before")
    @classmethod
    def _path_as_text(cls, value: object) -> object:
        """A folder given as a Path (``Settings(store=tmp_path)``) is kept as its text."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    def dead_job_after_s(self) -> int:
        """How long after a busy worker's last heartbeat its job counts as abandoned."""
        return 2 * self.worker_heartbeat_s + 5


def worker_settings() -> WorkerSettings:
    """The settings in this process's environment now (read at every job's start: cheap, and a
    forked work horse sees what its worker was started with)."""
    return WorkerSettings()
