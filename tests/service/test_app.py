"""The app as ``odecast api`` serves it: its startup heap is frozen; a test's app leaves it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

SERVED = """
import gc
from fastapi.testclient import TestClient
from service.app import create_served_app
with TestClient(create_served_app()) as client:
    assert client.get("/healthz").status_code == 200
    print(gc.get_freeze_count())
"""


def test_the_served_app_freezes_what_startup_built(settings: Settings) -> None:
    # In a process of its own: whatever a freeze catches is never collected.
    done = subprocess.run(
        [sys.executable, "-c", SERVED],
        env=dict(os.environ),  # the settings fixture's store and Redis
        cwd=Path(__file__).parents[2],  # the repository, where ``service`` lives
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(done.stdout.split()[-1]) > 100_000  # torch, matplotlib, the app


def test_an_app_built_by_create_app_freezes_nothing(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0


def test_the_api_sweeps_a_crash_s_old_leftovers_at_start(settings: Settings) -> None:
    models = Path(settings.store) / "models"
    old, young = models / ".trash-m-1-deadbeef", models / ".tmp-m-2-feedface"
    for folder in (old, young):
        folder.mkdir(parents=True)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
    assert not old.exists() and young.exists()
