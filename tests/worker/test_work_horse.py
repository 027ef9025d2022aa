"""What a work horse (the process RQ forks for each job) does before its job runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from service.queueing import training_queue
from service.settings import Settings

WORKER = [sys.executable, "-m", "service.cli", "worker", "--burst"]


def test_a_work_horse_freezes_the_training_code(
    settings: Settings, redis_client: redis.Redis
) -> None:
    # Any importable function is a job to RQ: this one reports the horse's frozen objects.
    job = training_queue(redis_client, settings).enqueue("gc.get_freeze_count")
    subprocess.run(
        WORKER,
        env=dict(os.environ),  # the settings fixture's store and Redis
        cwd=Path(__file__).parents[2],
        capture_output=True,
        timeout=120,
        check=True,
    )
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() > 100_000  # torch and the training code
