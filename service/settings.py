"""Every setting of the service and its workers: ``ODECAST_*`` environment variables, read once.

The workers' own settings live in `worker.settings` (the worker does not import the API); these
extend them with the API's.

docs/settings.md lists these (tests/test_readme_settings.py keeps the two in step).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr

from worker.settings import DEFAULT_REDIS_URL, WorkerSettings

from .defaults import DEFAULT_HOST, DEFAULT_PORT

__all__ = ["DEFAULT_REDIS_URL", "Settings", "WorkerSettings", "get_settings"]


class Settings(WorkerSettings):
    """The service's settings: the workers' and the API's. Each field is read from
    ``ODECAST_<NAME>``."""

    host: str = Field(DEFAULT_HOST, description="Address the API listens on.")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="Port the API listens on.")
    workers: int = Field(1, ge=0, le=64, description="Workers that `odecast up` starts.")
    api_workers: int = Field(
        2, ge=1, le=64, description="API processes (`odecast api`, `odecast up`), one port."
    )
    api_keys: SecretStr = Field(
        SecretStr(""), description="Comma-separated API keys; empty: no authentication."
    )

    idempotency_ttl_s: int = Field(
        86400,
        ge=1,
        description="How long Idempotency-Key lasts once its fit is queued (held 120 s before).",
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

    def api_key_list(self) -> list[str]:
        """The configured API keys (none: authentication is off)."""
        return [key.strip() for key in self.api_keys.get_secret_value().split(",") if key.strip()]


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
