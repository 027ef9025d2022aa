"""RQ job functions. They take ids only and read everything else from the store.

``fit_provisional(model_id)`` fits the cheap candidates of the model registered under that id
and stores them as its provisional stage, which serves predictions at once; its training job
waits for it (an RQ dependency), on a queue every worker takes from first.

``train_model(model_id)`` then trains the latent ODE: it resumes from the model's last training
checkpoint when there is one (the job is a retry after its worker died, or a restart after a
graceful shutdown), writes progress to ``job.meta`` and a checkpoint every
``checkpoint_every_s`` seconds, and ends by storing the trained model as the final stage and
marking it ready. A cancelled or failed training leaves the provisional stage serving.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import time
from dataclasses import asdict
from types import FrameType
from typing import Any

import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException

from models.store import (
    ModelRecord,
    ModelStore,
    Stage,
    StoreError,
    UnknownModelError,
    VersionRecord,
    open_store,
    update_version,
    utc_now,
)

from .protocol import (
    META_ERROR,
    META_MODEL_ID,
    META_OUTCOME,
    META_PROGRESS,
    META_RESUMED_FROM,
    META_STAGE,
    RQ_FAILURES,
    JobState,
    ModelStatus,
    cancel_key,
)
from .settings import WorkerSettings, worker_settings

log = logging.getLogger(__name__)

# The worker sends this to a running job when it is asked to shut down (see worker.main).
INTERRUPT_SIGNAL = signal.SIGUSR1


class TrainingInterrupted(Exception):
    """The worker is shutting down; the job checkpointed and goes back to the queue."""


def train_model(model_id: str, version: int = 1) -> dict[str, Any]:
    """Train, checkpoint and store version ``version`` of the model ``model_id`` (1: its first
    fit; later: a refit, which starts from its parent version's weights and optimizer state and
    replaces it as the serving version only once trained); return its outcome and metrics."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("train_model runs inside an RQ job")
    settings = worker_settings()
    run = _TrainingRun(job, open_store(settings.store), model_id, settings, version)
    return run.execute()


def fit_provisional(model_id: str) -> dict[str, Any]:
    """Fit and store the provisional stage of ``model_id``; skipped when the model is gone, has
    a stage already (a rerun), or was cancelled or failed before this ran."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("fit_provisional runs inside an RQ job")
    settings = worker_settings()
    store = open_store(settings.store)
    try:
        record = store.record(model_id)
    except UnknownModelError:
        return {"model_id": model_id, "outcome": "skipped: no such model in this store"}
    if record.stage is not None or record.status in (ModelStatus.CANCELLED, ModelStatus.FAILED):
        return {"model_id": model_id, "outcome": f"skipped: {record.stage or record.status}"}
    # a worker's shutdown waits for a fit of seconds rather than cut it short
    signal.signal(INTERRUPT_SIGNAL, signal.SIG_IGN)
    started = time.monotonic()
    try:
        _store_provisional(store, model_id, record.config)
    except UnknownModelError:  # deleted meanwhile: what the save left goes too
        store.discard_remains(model_id)
        return {"model_id": model_id, "outcome": "skipped: deleted meanwhile"}
    except Exception:
        job.retries_left = 0  # retries are for dead workers; the training job waits for this
        raise
    if record.job_id is not None:
        _tell_training_job(job.connection, record.job_id)
    seconds = time.monotonic() - started
    log.info("model %s: provisional stage in %.2f s", model_id, seconds)
    return {"model_id": model_id, "outcome": str(Stage.PROVISIONAL), "seconds": seconds}


def _store_provisional(store: ModelStore, model_id: str, config_json: dict[str, Any]) -> None:
    from models.checkpoint import checkpoint_manifest
    from models.latent.provisional import fit_provisional as fit
    from models.latent.resume import save_provisional_model
    from models.latent.train import Config, fit_normaliser

    config = Config.from_json(config_json)
    dataset = store.dataset(model_id)
    normaliser = fit_normaliser(config, dataset)
    provisional = fit(config, dataset, normaliser)
    folder = store.trained_dir(model_id)
    save_provisional_model(folder, provisional)
    manifest = checkpoint_manifest(folder)
    store.update_record(
        model_id,
        stage=Stage.PROVISIONAL,
        skill=provisional.skill,
        checkpoint_version=None if manifest is None else manifest["version"],
        checkpoint_manifest=manifest,
        time_scale=normaliser.time_scale,
    )


def _tell_training_job(connection: redis.Redis, job_id: str) -> None:
    """Show the stage in the training job's meta (it waits for this job: no other writer)."""
    try:
        training = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        training.meta[META_STAGE] = str(Stage.PROVISIONAL)
        training.save_meta()
    except (NoSuchJobError, redis.RedisError) as err:
        log.warning("job %s: cannot show its provisional stage: %s", job_id, err)


def on_train_failure(job: Job, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback, also called for a job whose worker died: keep the registry in step."""
    model_id = job.meta.get(META_MODEL_ID) or (job.args[0] if job.args else None)
    if not isinstance(model_id, str):
        return
    version = job.args[1] if len(job.args) > 1 else 1
    store = open_store(worker_settings().store)
    retrying = job.retries_left is not None and job.retries_left > 0
    status = ModelStatus.QUEUED if retrying else ModelStatus.FAILED
    error = None if retrying else _describe(exc_type, exc)
    with contextlib.suppress(StoreError):  # deleted meanwhile, or the store is unreachable
        if version == 1:
            store.update_record(model_id, status=status, error=error)
        else:  # a refit: the serving version is untouched
            update_version(store, model_id, version, status=status, error=error)


def _describe(exc_type: Any, exc: Any) -> str:
    name = getattr(exc_type, "__name__", "error")
    if name in RQ_FAILURES:
        return RQ_FAILURES[name]
    text = f"{name}: {exc}" if str(exc) else name
    return text + _HINTS.get(name, "")


_HINTS = {
    "TooManyStepsError": " (the model's dynamics got too hard to solve: raise model.max_steps, "
    "loosen model.rtol/atol, or lower training.lr)",
    "StepSizeUnderflowError": " (loosen model.rtol/atol or lower training.lr)",
    "NonFiniteStateError": " (lower training.lr)",
}


class ModelNotInStoreError(RuntimeError):
    """The job's model is not in this worker's store and nobody deleted it: the worker does not
    share the API's store (a different ODECAST_STORE, or a volume not mounted)."""

    def __init__(self, model_id: str, settings: WorkerSettings) -> None:
        super().__init__(
            f"model {model_id!r} is not in this worker's store ({settings.store}) and was not "
            "deleted: the worker must share the API's store (the same ODECAST_STORE, or the "
            "same volume mounted)"
        )


class DeviceUnavailableError(RuntimeError):
    """The device this worker was told to train on is not there."""


def training_device(requested: str) -> str:
    """The torch device a job trains on: ``auto`` is CUDA when torch sees a GPU, else the CPU;
    ``cuda`` and ``cuda:N`` must be there (a worker pinned to a GPU never falls back silently)."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return requested
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(requested.partition(":")[2] or 0)
    if index >= count:
        raise DeviceUnavailableError(
            f"this worker trains on {requested} (--device / ODECAST_WORKER_DEVICE) but torch "
            f"sees {count} CUDA device(s) here; give this worker a GPU it can see, or run it with "
            "--device cpu or auto"
        )
    return requested


class _TrainingRun:
    """One execution of a training job: the callbacks of ``train`` and their state."""

    def __init__(
        self,
        job: Job,
        store: ModelStore,
        model_id: str,
        settings: WorkerSettings,
        version: int = 1,
    ) -> None:
        self.job, self.store, self.model_id, self.settings = job, store, model_id, settings
        self.version = version
        self.optimizer_state: Any = None  # where training ended: kept with the trained model
        self.interrupted = False
        self.cancelled = False
        self.deleted = False
        self.found = False  # the model was in this worker's store when last looked for
        self.stopping = False  # decided once an epoch, in _on_checkpoint
        self.last_progress = 0.0
        self.latest_progress: Any = None
        self.last_checkpoint = time.monotonic()
        self.started = time.monotonic()

    def execute(self) -> dict[str, Any]:
        self.job.meta[META_MODEL_ID] = self.model_id
        self._save_meta()
        try:
            stop = self._stop_requested()
        except (ModelNotInStoreError, StoreError) as err:  # not our store, or it is unreachable
            self._fail(err)
            raise
        if stop:
            return self._finish_without_training()
        if self._already_trained():
            # A rerun of a job that stored its model but could not report it (Redis was away).
            return self._outcome(JobState.SUCCEEDED, self.store.record(self.model_id).metrics)
        previous = signal.signal(INTERRUPT_SIGNAL, self._on_interrupt)
        try:
            return self._train()
        except TrainingInterrupted:
            # RQ puts a failed job with retries left back on the queue, spending one: give it
            # back, since a shutdown is not the job's fault.
            self.job.retries_left = (self.job.retries_left or 0) + 1
            raise
        except Exception as err:
            if self._deleted_meanwhile():
                # DELETE /models landed mid-write (a record update, a checkpoint, the trained
                # model): what the write left goes, and the job ends cancelled, as documented
                log.info("model %s deleted while its job wrote to it (%s)", self.model_id, err)
                self.store.discard_remains(self.model_id)
                return self._outcome(JobState.CANCELLED, {})
            if not isinstance(err, UnknownModelError):
                self._fail(err)
            raise
        finally:
            signal.signal(INTERRUPT_SIGNAL, previous)

    def _deleted_meanwhile(self) -> bool:
        """Whether the model was deleted through DELETE /models (its folder gone and its job
        asked to stop); False when that cannot be told."""
        try:
            return not self.store.exists(self.model_id) and self._redis_says_cancel()
        except (StoreError, redis.RedisError):
            return False

    def _train(self) -> dict[str, Any]:
        # Torch and the training code load here, in the work horse, never in the worker parent:
        # a forked horse cannot use CUDA if its parent initialised it.
        import torch

        from models.latent.resume import save_trained_model
        from models.latent.train import train

        # One thread by default: a latent ODE's ops are small, and idle OpenMP threads spin,
        # which costs 3x per epoch when the API shares the cores (bench/load.py).
        torch.set_num_threads(self.settings.worker_torch_threads)

        config, start = self._config_and_start()
        dataset = self.store.dataset(self.model_id, self.version)
        device = training_device(self.settings.worker_device)
        log.info("model %s: training version %d on %s", self.model_id, self.version, device)
        self.config = config
        resume_from = self._resume_state(config) or start
        self._update(status=ModelStatus.TRAINING, error=None, started_at=utc_now(), device=device)
        trained = train(
            config,
            dataset,
            device=device,
            on_progress=self._on_progress,
            checkpoint=self._on_checkpoint,
            resume_from=resume_from,
            stop=self._stop_decided,
            normaliser=self.normaliser,
        )
        if self.deleted:
            self.store.discard_remains(self.model_id)
            return self._outcome(JobState.CANCELLED, {})
        if self.interrupted:
            self._flush_progress(ended=False)
            self._save_meta()
            raise TrainingInterrupted(f"worker shut down; model {self.model_id} checkpointed")
        if self.cancelled:  # the provisional stage serves on; training can be resumed later
            self._update(status=ModelStatus.CANCELLED, metrics=measured(trained.metrics))
            return self._outcome(JobState.CANCELLED, measured(trained.metrics))
        folder = self.store.trained_dir(self.model_id, self.version)
        save_trained_model(folder, trained, self.optimizer_state)
        return self._complete(trained.metrics, trained.normaliser.time_scale, trained.skill)

    def _config_and_start(self) -> tuple[Any, Any]:
        """The config this version trains under, and the state it starts from: none for a first
        fit (fresh weights; the normaliser fitted on its data), the parent version's weights,
        optimizer state and normaliser for a refit (whose weights mean nothing under another)."""
        from models.latent.resume import refit_start
        from models.latent.train import Config, fit_normaliser, refit_training

        record = self.store.record(self.model_id)
        config = Config.from_json(record.config)
        entry = record.version_record(self.version)
        if self.version == 1 or entry is None or entry.parent_version is None:
            self.normaliser = fit_normaliser(config, self.store.dataset(self.model_id))
            return config, None
        parent = self.store.trained_dir(self.model_id, entry.parent_version)
        trained, start = refit_start(parent)
        self.normaliser = trained.normaliser
        epochs_run = trained.metrics.get("epochs_run")
        changes = entry.training or {}
        training = refit_training(config.training, epochs_run, trained.normaliser, changes)
        return Config(config.model, training), start

    def _resume_state(self, config: Any) -> Any:
        from models.checkpoint import CheckpointError, checkpoint_version
        from models.latent.resume import load_training_state

        folder = self.store.training_dir(self.model_id, self.version)
        try:
            if checkpoint_version(folder) is None:
                return None
            state, saved_config, _ = load_training_state(folder)
        except CheckpointError as err:
            log.warning("model %s: unreadable checkpoint (%s); starting over", self.model_id, err)
            return None
        if saved_config != config:
            log.warning("model %s: checkpoint is of another config; starting over", self.model_id)
            return None
        log.info("model %s: resuming at epoch %d", self.model_id, state.epoch)
        self.job.meta[META_RESUMED_FROM] = state.epoch
        self._save_meta()
        return state

    # -- train()'s callbacks ---------------------------------------------------------------

    def _on_progress(self, progress: Any) -> None:
        self.latest_progress = progress
        now = time.monotonic()
        if now - self.last_progress < self.settings.progress_every_s:
            return
        self.last_progress = now
        self.job.meta[META_PROGRESS] = asdict(progress)
        self._save_meta()

    def _flush_progress(self, *, ended: bool) -> None:
        """Write the last epoch's figures, which the throttle may have held back."""
        if self.latest_progress is None:
            return
        progress = asdict(self.latest_progress)
        if ended:
            progress["eta_s"] = 0.0
        self.job.meta[META_PROGRESS] = progress

    def _on_checkpoint(self, state: Any) -> None:
        from models.latent.resume import save_training_state

        self.optimizer_state = state.optimizer
        self._check_timeout()
        self.stopping = self._stop_requested()
        due = time.monotonic() - self.last_checkpoint >= self.settings.checkpoint_every_s
        if not (due or self.stopping) or self.deleted:
            return
        save_training_state(
            self.store.training_dir(self.model_id, self.version),
            state,
            self.config,
            self.normaliser,
        )
        self.last_checkpoint = time.monotonic()

    def _check_timeout(self) -> None:
        """Fail the job once it has run past its timeout, as RQ's alarm does: the alarm's
        exception is lost when it lands in a garbage-collector callback or a ``__del__`` (Python
        prints and ignores it there), and the job then trained on to its end (seen in the test
        suite, where hypothesis hooks the collector)."""
        timeout = self.job.timeout
        if timeout is not None and 0 < timeout < time.monotonic() - self.started:
            raise JobTimeoutException(f"Task exceeded maximum timeout value ({timeout} seconds)")

    def _stop_decided(self) -> bool:
        """Whether training stops after this epoch, as the checkpoint callback decided it: a
        cancel that lands after the callback waits an epoch, so training always stops at the
        epoch its last checkpoint holds."""
        return self.stopping

    def _stop_requested(self) -> bool:
        if not self.store.exists(self.model_id):
            # Once the job has found its model here, the store is the API's and a missing folder
            # is a DELETE /models, whether or not the API could reach Redis to say so (it ended
            # the job failed, "not in this worker's store").
            if not (self.found or self._redis_says_cancel()):
                raise ModelNotInStoreError(self.model_id, self.settings)
            self.deleted = True  # DELETE /models asks the job to stop, then removes the folder
        elif self._redis_says_cancel():
            self.cancelled = True
        self.found = True
        return self.deleted or self.cancelled or self.interrupted

    def _redis_says_cancel(self) -> bool:
        try:
            return bool(self.job.connection.exists(cancel_key(self.job.id)))
        except redis.RedisError as err:  # training goes on through a Redis outage
            log.warning("model %s: cannot check for a cancel request: %s", self.model_id, err)
            return False

    def _save_meta(self) -> None:
        try:
            self.job.save_meta()
        except redis.RedisError as err:
            log.warning("model %s: progress not saved, Redis unavailable: %s", self.model_id, err)

    def _already_trained(self) -> bool:
        from models.checkpoint import checkpoint_version

        record = self.store.record(self.model_id)
        ready = record.status is ModelStatus.READY and record.job_id == self.job.id
        folder = self.store.trained_dir(self.model_id, self.version)
        return ready and record.version == self.version and checkpoint_version(folder) is not None

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True

    # -- endings ---------------------------------------------------------------------------

    def _complete(
        self, metrics: dict[str, float], time_scale: float, skill: dict[str, Any]
    ) -> dict[str, Any]:
        from models.checkpoint import checkpoint_manifest

        manifest = checkpoint_manifest(self.store.trained_dir(self.model_id, self.version))
        metrics, skill = measured(metrics), measured_skill(skill)
        final = {
            "status": ModelStatus.READY,
            "stage": Stage.FINAL,
            "checkpoint_version": None if manifest is None else manifest["version"],
            "checkpoint_manifest": manifest,
            "trained_at": utc_now(),
            "error": None,
        }
        served = {**final, "metrics": metrics, "skill": skill, "time_scale": time_scale}
        if self.version == 1:
            self._update(**served)
        else:  # the refit becomes the serving version, all in one record update
            self.store.change_record(self.model_id, lambda r: self._switch(r, final, served))
        self.job.meta[META_STAGE] = str(Stage.FINAL)
        self._remove_training_checkpoint()
        return self._outcome(JobState.SUCCEEDED, metrics)

    def _finish_without_training(self) -> dict[str, Any]:
        if self.deleted:
            self.store.discard_remains(self.model_id)
        else:
            self._update(status=ModelStatus.CANCELLED)
        return self._outcome(JobState.CANCELLED, {})

    def _fail(self, err: Exception) -> None:
        """Record a failure that retrying cannot fix (divergence, solver failure, timeout...)."""
        message = _describe(type(err), err)
        self.job.retries_left = 0  # retries are for dead workers, not for deterministic failures
        self.job.meta[META_ERROR] = message
        self._save_meta()
        # Deleted meanwhile, or the store is unreachable: the API marks the model failed from
        # the job's error then (service.queueing.settled).
        with contextlib.suppress(StoreError):
            self._update(status=ModelStatus.FAILED, error=message)

    def _outcome(self, state: JobState, metrics: dict[str, float]) -> dict[str, Any]:
        self._flush_progress(ended=True)
        self.job.meta[META_OUTCOME] = str(state)
        self._save_meta()
        return {"model_id": self.model_id, "outcome": str(state), "metrics": metrics}

    def _update(self, **changes: Any) -> None:
        """Record ``changes``: in the record's own fields for a first fit, in the version's
        entry for a refit (the serving version's fields are not its until it is final)."""
        if self.version == 1:
            self.store.update_record(self.model_id, **changes)
        else:
            update_version(self.store, self.model_id, self.version, **changes)

    def _switch(
        self, record: ModelRecord, final: dict[str, Any], served: dict[str, Any]
    ) -> dict[str, Any]:
        """The record's changes that make this refit's version the serving one: its entry
        ended, and the record's own fields its."""
        entry = record.version_record(self.version)
        if entry is None:
            raise UnknownModelError(f"{self.model_id} (version {self.version})")
        if record.version != entry.parent_version:
            raise RuntimeError(
                f"version {record.version} serves now, not version {entry.parent_version} that "
                f"this refit continued: refit again from version {record.version}"
            )
        entry = VersionRecord.model_validate({**entry.model_dump(mode="json"), **final})
        lineage = ("parent_version", "points_added", "n_series", "n_points", "series_ids")
        return {
            **served,
            **{name: getattr(entry, name) for name in (*lineage, "time_range", "job_id")},
            "version": self.version,
            "versions": record.with_version(entry),
            "pending_version": None
            if record.pending_version == self.version
            else (record.pending_version),
        }

    def _remove_training_checkpoint(self) -> None:
        self.store.remove_training(self.model_id, self.version)


def measured(metrics: dict[str, float]) -> dict[str, float]:
    """``metrics`` without the figures that are not finite numbers (a data set too small to
    hold anything out has NaN validation errors: not measured). Records are strict JSON, and
    the NaN had failed a finished job as it wrote its record."""
    return {name: value for name, value in metrics.items() if math.isfinite(value)}


def measured_skill(skill: dict[str, Any]) -> dict[str, Any]:
    """``skill`` with a job's figures (interpolation, extrapolation) dropped, as not measured,
    when any of them is not a finite number."""
    return {
        key: None if key in SKILL_JOBS and not _all_finite(value) else value
        for key, value in skill.items()
    }


SKILL_JOBS = ("interpolation", "extrapolation")


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(item) for item in value)
    return True
