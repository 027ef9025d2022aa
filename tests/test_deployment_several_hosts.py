"""The deployment over several machines: docker-compose.s3.yml (the main host with an object store)
and docker-compose.worker.yml (worker-only hosts), checked as parsed files, by the real odecast
command-line parser and Settings, and by docker-compose when it is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_deployment import (
    COMPOSE,
    COMPOSE_GPU,
    COMPOSE_V1_KNOWS,
    MIN_WORKER_GRACE_S,
    ROOT,
    command_words,
    compose,
    depends_on_healthy,
    environment,
    parse_cli,
    parse_duration,
    volume_mounts,
)

from models.store.s3_objects import parse_s3_url
from service.settings import Settings

COMPOSE_S3 = ROOT / "docker-compose.s3.yml"
COMPOSE_WORKER = ROOT / "docker-compose.worker.yml"
# Variables of the compose files that only the host's shell reads (ports, secrets to pass on).
HOST_VARIABLES = {
    "ODECAST_S3_ACCESS_KEY",
    "ODECAST_S3_SECRET_KEY",
    "ODECAST_REDIS_PASSWORD",
    "ODECAST_REDIS_PORT",
    "ODECAST_S3_PORT",
}
# What the files need from the host, for docker-compose's check.
REQUIRED = {
    "ODECAST_S3_ACCESS_KEY": "key",
    "ODECAST_S3_SECRET_KEY": "secret",
    "ODECAST_REDIS_PASSWORD": "password",
    "ODECAST_REDIS_URL": "redis://:password@main-host:6379/0",
    "ODECAST_STORE": "s3://odecast/models",
    "AWS_ENDPOINT_URL": "http://main-host:8333",
    "AWS_ACCESS_KEY_ID": "key",
    "AWS_SECRET_ACCESS_KEY": "secret",
}


@cache
def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def services(path: Path) -> dict[str, Any]:
    return load(path).get("services") or {}


def required_variable(value: str | None) -> str | None:
    """The variable that ``${NAME:?message}`` requires, else None."""
    match = re.fullmatch(r"\$\{([A-Z0-9_]+):\?[^}]*\}", value or "")
    return match.group(1) if match else None


def test_the_object_store_option_points_api_and_workers_at_its_bucket():
    assert str(load(COMPOSE_S3).get("version")) in COMPOSE_V1_KNOWS
    s3 = services(COMPOSE_S3)["s3"]
    words = command_words(s3["command"])
    (bucket_flag,) = [w for w in words if w.startswith("-bucket=")]
    assert ("s3-data", "/data") in volume_mounts(s3)
    assert "s3-data" in (load(COMPOSE_S3).get("volumes") or {})
    assert "/healthz" in " ".join(command_words(s3["healthcheck"]["test"]))
    for name in ("api", "worker"):
        env = environment(services(COMPOSE_S3)[name])
        bucket, _ = parse_s3_url(str(env["ODECAST_STORE"]))
        assert bucket_flag == f"-bucket={bucket}", f"{name}: its bucket is not the one created"
        assert env["AWS_ENDPOINT_URL"] == "http://s3:8333", name
        assert depends_on_healthy(services(COMPOSE_S3)[name], "s3"), name
        # No default credentials: the server and its clients get the host's, or nothing starts.
        assert required_variable(env["AWS_ACCESS_KEY_ID"]) == "ODECAST_S3_ACCESS_KEY"
        assert required_variable(env["AWS_SECRET_ACCESS_KEY"]) == "ODECAST_S3_SECRET_KEY"
        assert "${ODECAST_REDIS_PASSWORD:?" in str(env["ODECAST_REDIS_URL"]), name
        assert env["ODECAST_API_KEYS"] is None, f"{name}: API keys pass through from the host"
    server_env = environment(s3)
    assert required_variable(server_env["AWS_ACCESS_KEY_ID"]) == "ODECAST_S3_ACCESS_KEY"
    redis_words = " ".join(command_words(services(COMPOSE_S3)["redis"]["command"]))
    for rule in ("--appendonly yes", "--maxmemory-policy noeviction", "--requirepass"):
        assert rule in redis_words, f"redis: the override drops {rule}"


def test_the_object_store_settings_are_valid(monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.startswith("ODECAST_"):
            monkeypatch.delenv(name)
    for name in ("api", "worker"):
        env = environment(services(COMPOSE_S3)[name])
        monkeypatch.setenv("ODECAST_STORE", str(env["ODECAST_STORE"]))
        monkeypatch.setenv("ODECAST_REDIS_URL", "redis://:pw@redis:6379/0")
        assert Settings().store.startswith("s3://")


def test_a_worker_only_host_runs_workers_against_the_main_hosts_services():
    found = services(COMPOSE_WORKER)
    assert set(found) == {"worker"}, "a worker-only host runs no Redis, API or store"
    worker = found["worker"]
    args = parse_cli(command_words(worker["command"]), "docker-compose.worker.yml: worker")
    assert args.command == "worker"
    env = environment(worker)
    for variable in ("ODECAST_REDIS_URL", "ODECAST_STORE", "AWS_ENDPOINT_URL"):
        assert required_variable(env[variable]) == variable, f"{variable} has a default"
    assert parse_duration(worker["stop_grace_period"]) >= MIN_WORKER_GRACE_S
    assert worker["healthcheck"] == {"disable": True}
    assert worker["build"] == compose()["services"]["worker"]["build"]
    assert set(services(COMPOSE_GPU)) <= set(found), "the GPU override names unknown workers"


def test_every_odecast_variable_is_a_setting_or_a_host_variable():
    fields = set(Settings.model_fields)
    for path in (COMPOSE_S3, COMPOSE_WORKER):
        for name in sorted(set(re.findall(r"\bODECAST_[A-Z0-9_]+\b", path.read_text()))):
            key = name.removeprefix("ODECAST_").lower()
            assert key in fields or name in HOST_VARIABLES, f"{path.name}: {name} is unknown"


def test_docker_compose_validates_the_files():
    binary = shutil.which("docker-compose")
    if binary is None:
        return  # the structure tests above hold without it
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ODECAST_", "TORCH_", "AWS_"))
        and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env.setdefault("PATH", os.defpath)
    for files in ([COMPOSE, COMPOSE_S3], [COMPOSE_WORKER], [COMPOSE_WORKER, COMPOSE_GPU]):
        argv = [binary, *(arg for f in files for arg in ("-f", str(f))), "config", "-q"]
        unset = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert unset.returncode != 0 and "set " in unset.stderr, "a required variable has a default"
        done = subprocess.run(
            argv, cwd=ROOT, env={**env, **REQUIRED}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
