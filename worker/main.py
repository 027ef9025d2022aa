"""``odecast worker``: an RQ worker on the training queue, with a shutdown that checkpoints."""

from __future__ import annotations

import logging

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from service.settings import Settings

from .jobs import INTERRUPT_SIGNAL

log = logging.getLogger(__name__)


class TrainingWorker(Worker):
    """An RQ worker whose warm shutdown asks the running job to checkpoint and requeue itself,
    instead of waiting for the whole training to end, and whose jobs are declared abandoned
    ``dead_after_s`` after their worker's last heartbeat (RQ's default: 90 s or more)."""

    dead_after_s = 25

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.dead_after_s

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        if self.horse_pid:
            log.info("asking job in work horse %s to checkpoint and stop", self.horse_pid)
            self.kill_horse(sig=INTERRUPT_SIGNAL)


def make_worker(settings: Settings, connection: redis.Redis, *, fork: bool = True) -> Worker:
    """The worker ``odecast worker`` runs; ``fork=False`` gives one that runs jobs in its own
    process, for a process that already uses torch (GNU OpenMP deadlocks in a child forked
    after the parent ran a parallel region)."""
    queue = Queue(settings.queue, connection=connection, serializer=JSONSerializer)
    if not fork:
        return SimpleWorker([queue], connection=connection, serializer=JSONSerializer)
    worker = TrainingWorker(
        [queue],
        connection=connection,
        serializer=JSONSerializer,
        job_monitoring_interval=settings.worker_heartbeat_s,
        maintenance_interval=settings.worker_maintenance_s,
        # An idle worker wakes every worker_ttl - 15 s, and runs maintenance when it is due.
        worker_ttl=settings.worker_maintenance_s + 15,
    )
    worker.dead_after_s = settings.dead_job_after_s()
    return worker


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Work on the training queue until SIGTERM or SIGINT (or, with ``burst``, until it is empty).

    Nothing here touches CUDA: jobs run in forked work horses, which may.
    """
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    connection = redis.Redis.from_url(settings.redis_url)
    worker = make_worker(settings, connection)
    worker.work(burst=burst, logging_level=settings.log_level.upper())
