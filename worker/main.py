"""``odecast worker``: an RQ worker on the training queue, with a shutdown that checkpoints."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from .jobs import INTERRUPT_SIGNAL
from .protocol import provisional_queue
from .settings import WorkerSettings

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PUBSUB_POLL_S = 1.0  # how long the worker's command listener waits per poll: bounds its stop


class TrainingWorker(Worker):
    """An RQ worker whose warm shutdown asks the running job to checkpoint and requeue itself,
    instead of waiting for the whole training to end, and whose jobs are declared abandoned
    ``dead_after_s`` after their worker's last heartbeat (RQ's default: 90 s or more)."""

    dead_after_s = 25

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.dead_after_s

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        # RQ puts the horse in a process group of its own, so nothing that kills the worker
        # reaches it: without this, a horse whose worker died would train on, beside the
        # rerun of its own job.
        _signal_when_parent_dies(INTERRUPT_SIGNAL)
        _freeze_training_code()
        super().main_work_horse(job, queue)

    def subscribe(self) -> None:
        # RQ's, with a short poll. redis-py joins the listener thread on stop with no time limit,
        # and a listener left without a subscription (unsubscribed, or Redis gone) waits a whole
        # poll for one: RQ's 60 s poll held an idle worker's shutdown up to a minute.
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ's None
            sleep_time=PUBSUB_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        if self.horse_pid:
            log.info("asking job in work horse %s to checkpoint and stop", self.horse_pid)
            self.kill_horse(sig=INTERRUPT_SIGNAL)


def _freeze_training_code() -> None:
    """Import torch and the training code (a job would, a moment later), then keep what is alive
    out of the garbage collector's full passes (``gc.freeze``): in process, a fit spent 4% of its
    time walking torch's objects there (0.30 of 7.6 s; 0.07 s frozen). Only in a work horse,
    which ends with its job: a process that runs job after job would keep each job's garbage."""
    import torch  # noqa: F401  (in the horse: the worker itself never touches torch or CUDA)

    import models.latent.train  # noqa: F401

    gc.collect()
    gc.freeze()


def _load_provisional_code() -> None:
    """Import torch and the provisional fit in a light worker itself, so that its work horses
    inherit them instead of importing them for every job (seconds, against a fit of a fraction
    of one). A light worker never trains, so nothing here or in its horses touches CUDA."""
    import models.latent.provisional
    import models.latent.resume  # noqa: F401


def _signal_when_parent_dies(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (Linux; elsewhere a
    no-op). The job checkpoints on ``INTERRUPT_SIGNAL``; before the job's handler is installed
    the signal's default action ends the process, which then has nothing to lose."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent:  # the parent died before the call took effect
        os.kill(os.getpid(), sig)


def make_worker(
    settings: WorkerSettings, connection: redis.Redis, *, fork: bool = True, light: bool = False
) -> Worker | SimpleWorker:
    """The worker ``odecast worker`` runs: it takes the provisional fits first, then training
    jobs; ``light`` takes the provisional fits alone, so that they start within seconds while
    every training worker is busy. ``fork=False`` gives one that runs jobs in its own process,
    for a process that already uses torch (GNU OpenMP deadlocks in a child forked after the
    parent ran a parallel region)."""
    names = [provisional_queue(settings.queue)] + ([] if light else [settings.queue])
    queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in names]
    if not fork:
        return SimpleWorker(queues, connection=connection, serializer=JSONSerializer)
    worker = TrainingWorker(
        queues,
        connection=connection,
        serializer=JSONSerializer,
        job_monitoring_interval=settings.worker_heartbeat_s,
        maintenance_interval=settings.worker_maintenance_s,
        # An idle worker wakes every worker_ttl - 15 s, and runs maintenance when it is due.
        worker_ttl=settings.worker_maintenance_s + 15,
    )
    worker.dead_after_s = settings.dead_job_after_s()
    return worker


def run_worker(settings: WorkerSettings, *, burst: bool = False, light: bool = False) -> None:
    """Work on the queues until SIGTERM or SIGINT (or, with ``burst``, until they are empty);
    ``light``: the provisional fits alone (``make_worker``).

    Nothing here touches CUDA: jobs run in forked work horses, which may.
    """
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if light:
        _load_provisional_code()
    connection = redis.Redis.from_url(settings.redis_url)
    worker = make_worker(settings, connection, light=light)
    worker.work(burst=burst, logging_level=settings.log_level.upper())
