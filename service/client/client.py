"""``Client``: one method per endpoint of the odecast API, returning the result types."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from service.client.errors import ClientError
from service.client.payloads import _single_series, series_payload
from service.client.predict_args import (
    _grid_values,
    _interval_fields,
    _post_times,
    _predict_params,
)
from service.client.progress import _ProgressOutput, progress_line
from service.client.results import (
    FitAccepted,
    Job,
    Model,
    Prediction,
    PredictionBatch,
    RefitAccepted,
)
from service.client.transport import HttpSession, _segment, header_safe

# Past this many query parameters a GET /predict's URL grows too long for HTTP clients and
# servers (httpx refuses a query over 65,536 characters): the times go in a POST body instead.
MAX_QUERY_PARAMETERS = 1000


# The API's default limits of one POST /predict/batch (ODECAST_MAX_BATCH_ITEMS and
# ODECAST_MAX_BATCH_TIMES): a longer batch is sent in parts, each item answered as in one.
BATCH_ITEMS, BATCH_TIMES = 1000, 100_000


def _chunks(items: list[dict[str, Any]], times: int) -> list[list[dict[str, Any]]]:
    """``items`` (each with ``times`` times) in order, in parts within the batch limits."""
    size = max(1, min(BATCH_ITEMS, BATCH_TIMES // max(times, 1)))
    return [items[start : start + size] for start in range(0, len(items), size)]


class Client(HttpSession):
    """The odecast API over HTTP. Thread-safe as httpx.Client is; use as a context manager or
    call ``close()``.

    ``retries`` more attempts are made after a connection error or a 502/503/504, waiting
    ``backoff_s * 2**attempt`` seconds (or the server's Retry-After, at most
    ``max_retry_after_s``) in between. Other errors are never retried.

    The constructor, ``close`` and the retries are ``HttpSession``'s (service/client/transport.py);
    this class adds the endpoints."""

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    # ------------------------------------------------------------------ fitting and jobs

    def fit(
        self,
        series: Any,
        *,
        model: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> FitAccepted:
        """``POST /fit``: queue the training of a model on ``series``."""
        body: dict[str, Any] = {
            "series": series_payload(
                series, id_col=id_col, time_col=time_col, value_cols=value_cols
            )
        }
        if model is not None:
            body["model"] = dict(model)
        if training is not None:
            body["training"] = dict(training)
        if name is not None:
            body["name"] = name
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        headers = {"Idempotency-Key": header_safe(key, "the Idempotency-Key")}
        data = self._json("POST", "/fit", body=body, headers=headers)
        return FitAccepted(
            job_id=data["job_id"],
            model_id=data["model_id"],
            status_url=data.get("status_url", f"/jobs/{data['job_id']}"),
            idempotency_key=key,
            raw=data,
        )

    def refit(
        self,
        model_id: str,
        series: Any,
        *,
        training: Mapping[str, Any] | None = None,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> RefitAccepted:
        """``POST /models/{model_id}/refit``: new observations of the model's series (new
        times) or new series; the model's next version trains from its weights, and the
        current one answers until it is done."""
        body: dict[str, Any] = {
            "series": series_payload(
                series, id_col=id_col, time_col=time_col, value_cols=value_cols
            )
        }
        if training is not None:
            body["training"] = dict(training)
        data = self._json("POST", f"/models/{_segment(model_id)}/refit", body=body)
        return RefitAccepted(
            job_id=data["job_id"],
            model_id=data["model_id"],
            version=int(data["version"]),
            status_url=data.get("status_url", f"/jobs/{data['job_id']}"),
            raw=data,
        )

    def job(self, job_id: str) -> Job:
        """``GET /jobs/{job_id}``."""
        return Job.from_json(self._json("GET", f"/jobs/{_segment(job_id)}"))

    def jobs(self, limit: int | None = None) -> list[Job]:
        """``GET /jobs``: recent jobs (Redis keeps ended ones for a while), newest first; at most
        ``limit`` (the server's default 100)."""
        params = None if limit is None else [("limit", str(limit))]
        return [Job.from_json(j) for j in self._json("GET", "/jobs", params=params)["jobs"]]

    def cancel(self, job_id: str) -> Job:
        """``DELETE /jobs/{job_id}``: a queued job is cancelled at once, a running one at its
        next epoch (the answer then still says running)."""
        return Job.from_json(self._json("DELETE", f"/jobs/{_segment(job_id)}"))

    def wait(
        self,
        job_id: str,
        *,
        progress: bool = True,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
        stream: IO[str] | None = None,
        on_provisional: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll the job until it has ended and return it; a failed or cancelled job is returned,
        not raised (check ``job.status``). With ``progress``, a one-line bar on ``stream``
        (default stderr), rewritten in place on a terminal, else a line every
        ``PROGRESS_LOG_EVERY_S`` and the last one (a log file or CI output gets no carriage
        returns). ``on_provisional`` is called once, with the job, when the model's provisional
        stage is stored (it predicts from then on). TimeoutError after ``timeout_s``."""
        out = _ProgressOutput(stream if stream is not None else sys.stderr)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        told = False
        try:
            while True:
                job = self.job(job_id)
                if on_provisional is not None and not told and job.stage is not None:
                    told = True
                    out.interrupt()
                    on_provisional(job)
                if progress:
                    out.show(progress_line(job), final=job.done)
                if job.done:
                    return job
                pause = poll_s
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"job {job_id} is still {job.status} after {timeout_s:g} s"
                        )
                    pause = min(pause, left)
                time.sleep(pause)
        finally:
            out.close()

    # ------------------------------------------------------------------ the registry

    def models(self) -> list[Model]:
        """``GET /models``: every model in the store, oldest first."""
        return [Model.from_json(m) for m in self._json("GET", "/models")["models"]]

    def model(self, model_id: str) -> Model:
        """``GET /models/{model_id}``."""
        return Model.from_json(self._json("GET", f"/models/{_segment(model_id)}"))

    def backtest(self, model_id: str) -> dict[str, Any]:
        """``GET /models/{model_id}/backtest``: the served forecast's backtest beside the naive
        methods', per origin and lead time (see docs/forecasting.md)."""
        return self._json("GET", f"/models/{_segment(model_id)}/backtest")

    def delete_model(self, model_id: str) -> None:
        """``DELETE /models/{model_id}``: the model and its files (a job training it stops)."""
        self._request("DELETE", f"/models/{_segment(model_id)}")

    def health(self) -> dict[str, Any]:
        """``GET /healthz``."""
        return self._json("GET", "/healthz")

    # ------------------------------------------------------------------ predictions

    def predict(
        self,
        model_id: str,
        *,
        series_id: str | None = None,
        series: Any = None,
        times: Any = None,
        grid: tuple[Any, Any, int] | None = None,
        level: Sequence[float] | float | None = None,
        quantiles: Sequence[float] | None = None,
        n_samples: int | None = None,
        seed: int = 0,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> Prediction:
        """Predict a training series (``series_id``: ``GET /predict``, at ``times`` or on a
        ``grid=(start, stop, num)``) or a new one (``series``: ``POST /predict``, at ``times``
        or on a numeric grid). ``level`` (0-100) or ``quantiles`` (0-1); default one 80%
        interval."""
        if (series_id is None) == (series is None):
            raise ValueError("give series_id (a training series) or series (a new one), not both")
        if series_id is not None:
            params = _predict_params(
                model_id, series_id, times, grid, level, quantiles, n_samples, seed
            )
            if len(params) > MAX_QUERY_PARAMETERS:
                return self._predict_posted(
                    model_id, series_id, times, level, quantiles, n_samples, seed
                )
            return Prediction.from_json(self._json("GET", "/predict", params=params))
        body: dict[str, Any] = {
            "model_id": model_id,
            "series": _single_series(series, id_col, time_col, value_cols),
            "times": _post_times(times, grid),
            "seed": seed,
            **_interval_fields(level, quantiles, n_samples),
        }
        return Prediction.from_json(self._json("POST", "/predict", body=body))

    def _predict_posted(
        self,
        model_id: str,
        series_id: str,
        times: Any,
        level: Sequence[float] | float | None,
        quantiles: Sequence[float] | None,
        n_samples: int | None,
        seed: int,
    ) -> Prediction:
        """``GET /predict``'s answer for times too many for a URL, as the one item of a
        ``POST /predict/batch`` (the same answer, within the solver's tolerance)."""
        batch = self.predict_batch(
            model_id,
            series_ids=[series_id],
            times=times,
            level=level,
            quantiles=quantiles,
            n_samples=n_samples,
            seed=seed,
        )
        answer = batch.predictions[0] if batch.predictions else None
        if answer is None:
            reason = batch.errors[0]["message"] if batch.errors else "no answer"
            raise ClientError(f"predict {series_id!r}: {reason}")
        return answer

    def predict_batch(
        self,
        model_id: str,
        *,
        series_ids: Sequence[str] = (),
        series: Any = None,
        times: Any = None,
        grid: tuple[Any, Any, int] | None = None,
        level: Sequence[float] | float | None = None,
        quantiles: Sequence[float] | None = None,
        n_samples: int | None = None,
        seed: int = 0,
        id_col: str = "id",
        time_col: str = "time",
        value_cols: Sequence[str] | None = None,
    ) -> PredictionBatch:
        """``POST /predict/batch``: training series by id (``series_ids``) and new series
        (``series``, any form ``fit`` takes), all at the same ``times`` or ``grid`` (numbers or
        ISO-8601), from one batched solve; the same seed for every series."""
        listed = _grid_values(grid) if times is None and grid is not None else None
        listed = _post_times(times, grid) if listed is None else listed
        new = (
            []
            if series is None
            else series_payload(series, id_col=id_col, time_col=time_col, value_cols=value_cols)
        )
        items: list[dict[str, Any]] = [{"series_id": str(i), "times": listed} for i in series_ids]
        items += [{"series": one, "times": listed} for one in new]
        if not items:
            raise ValueError("give series_ids, series, or both")
        fields = {
            "model_id": model_id,
            "seed": seed,
            **_interval_fields(level, quantiles, n_samples),
        }
        parts = [
            PredictionBatch.from_json(
                self._json("POST", "/predict/batch", body={**fields, "items": chunk})
            )
            for chunk in _chunks(items, len(listed))
        ]
        return PredictionBatch.joined(parts)

    def plot(
        self,
        model_id: str,
        series_id: str,
        *,
        times: Any = None,
        grid: tuple[Any, Any, int] | None = None,
        level: Sequence[float] | float | None = None,
        n_samples: int | None = None,
        seed: int = 0,
        path: str | os.PathLike[str] | None = None,
    ) -> bytes:
        """``GET /predict.png``: the PNG's bytes, also written to ``path`` if given."""
        params = _predict_params(model_id, series_id, times, grid, level, None, n_samples, seed)
        png = self._request("GET", "/predict.png", params=params).content
        if path is not None:
            Path(path).write_bytes(png)
        return png
