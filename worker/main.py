"""``odecast worker``: an RQ worker on the training queue, with a shutdown that checkpoints."""

from __future__ import annotations

import logging

import redis
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from service.settings import Settings

from .jobs import INTERRUPT_SIGNAL

log = logging.getLogger(__name__)


class TrainingWorker(Worker):
    """An RQ worker whose warm shutdown asks the running job to checkpoint and requeue itself,
    instead of waiting for the whole training to end."""

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
    kind = TrainingWorker if fork else SimpleWorker
    return kind([queue], connection=connection, serializer=JSONSerializer)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Work on the training queue until SIGTERM or SIGINT (or, with ``burst``, until it is empty).

    Nothing here touches CUDA: jobs run in forked work horses, which may.
    """
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    connection = redis.Redis.from_url(settings.redis_url)
    worker = make_worker(settings, connection)
    worker.work(burst=burst, logging_level=settings.log_level.upper())
