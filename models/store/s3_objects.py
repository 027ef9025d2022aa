"""Objects in an S3-compatible bucket under a key prefix, through boto3.

The endpoint, region and credentials come from the standard AWS settings (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, profiles...), which boto3 reads.
With an endpoint set (MinIO, SeaweedFS, Ceph...), buckets are addressed by path
(``http://host:port/bucket/key``), which those servers expect. A client is made per process:
boto3's clients are thread-safe but their connection pools do not survive a fork.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from .errors import StoreUnavailableError

if TYPE_CHECKING:
    from botocore.client import BaseClient

# Seconds to connect and to wait for the next bytes of a reply (a large body keeps flowing, so
# this bounds a hung server, not a transfer), and calls made in all (one retry). A server that
# accepted connections and never answered held every store request 240 s (4 x 60 s: botocore's
# ``max_attempts`` counts retries), predictions of cached models included; now 2 x 15 s.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
TOTAL_ATTEMPTS = 2
# Objects removed per DeleteObjects call (S3's limit).
DELETE_BATCH = 1000
_MISSING = {"NoSuchKey", "404", "NotFound"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict"}


class ConditionFailedError(Exception):
    """A conditional write lost: the object already exists, or changed since it was read."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as ``("bucket", "some/prefix/")`` (prefix may be empty)."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if rest == url or not bucket:
        raise ValueError(f"{url!r} is not an S3 URL: write s3://bucket or s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


# The environment variables a client is made from; a change (in tests) makes a new client.
_CLIENT_VARIABLES = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


class _Clients:
    """One boto3 client per process (and setting of the AWS variables), made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: BaseClient | None = None
        self._made_for: tuple[object, ...] = ()

    def get(self) -> BaseClient:
        key = (os.getpid(), *(os.environ.get(name) for name in _CLIENT_VARIABLES))
        with self._lock:
            if self._client is None or self._made_for != key:
                self._client, self._made_for = _new_client(), key
            return self._client


def _new_client() -> BaseClient:
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": "path" if endpoint else "auto"},
        max_pool_connections=32,
        # SHA-256 in meta.json checks every checkpoint file; botocore's own CRC32 on every
        # upload and download would only add CPU (S3 still gets Content-MD5 where it needs one).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A region is required to sign requests; S3-compatible servers accept any.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.session.Session().client("s3", config=config, region_name=region)


_CLIENTS = _Clients()


class S3Folder:
    """The objects of ``bucket`` whose keys start with ``prefix`` (empty, or ending in ``/``)."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket, self.prefix = bucket, prefix

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def child(self, name: str) -> S3Folder:
        """The folder ``name`` inside this one."""
        return S3Folder(self.bucket, f"{self.prefix}{name.strip('/')}/")

    def read(self, name: str) -> bytes | None:
        found = self.read_tagged(name)
        return None if found is None else found[0]

    def read_tagged(self, name: str) -> tuple[bytes, str] | None:
        """The object's bytes and its ETag (for `write`'s ``if_tag``), or None if absent."""
        with self._calling("read", name):
            try:
                answer = self._client().get_object(Bucket=self.bucket, Key=self.prefix + name)
            except Exception as err:
                if _code(err) in _MISSING:
                    return None
                raise
            return answer["Body"].read(), str(answer["ETag"])
        raise AssertionError("unreachable: _Translating never swallows an error")

    def write(
        self, name: str, data: bytes, *, if_absent: bool = False, if_tag: str | None = None
    ) -> None:
        """Create or replace the object. ``if_absent``: only if there is none; ``if_tag``: only
        if it is still the version read with that ETag. Either raises ConditionFailedError when
        the condition does not hold (also when ``if_tag``'s object was deleted)."""
        conditions: dict[str, str] = {}
        if if_absent:
            conditions["IfNoneMatch"] = "*"
        if if_tag is not None:
            conditions["IfMatch"] = if_tag
        with self._calling("write", name):
            try:
                self._client().put_object(
                    Bucket=self.bucket, Key=self.prefix + name, Body=data, **conditions
                )
            except Exception as err:
                if conditions and _code(err) in _CONFLICT | _MISSING:
                    raise ConditionFailedError(f"{self.url}{name} exists or changed") from err
                raise

    def delete(self, name: str) -> None:
        with self._calling("delete", name):
            self._client().delete_object(Bucket=self.bucket, Key=self.prefix + name)

    def names(self) -> list[str]:
        return [key[len(self.prefix) :] for key in self._keys()]

    def subfolders(self) -> list[str]:
        """The names of the folders directly inside this one."""
        found = []
        with self._calling("list", ""):
            pages = self._client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"):
                found += [
                    p["Prefix"][len(self.prefix) : -1] for p in page.get("CommonPrefixes", [])
                ]
        return found

    def remove_all(self) -> None:
        """Delete every object in the folder."""
        keys = list(self._keys())
        with self._calling("delete", ""):
            for start in range(0, len(keys), DELETE_BATCH):
                batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
                self._client().delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )

    def read_many(self, names: list[str]) -> list[bytes | None]:
        """`read` of each name, several at a time (listing many models)."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(self.read, names))

    def _keys(self) -> Iterator[str]:
        with self._calling("list", ""):
            pages = self._client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                yield from (item["Key"] for item in page.get("Contents", []))

    def _client(self) -> Any:
        return _CLIENTS.get()

    def _calling(self, action: str, name: str) -> _Translating:
        return _Translating(f"{action} {self.url}{name}", self.bucket)


class _Translating:
    """Turns boto3's errors for an unreachable or unusable store into StoreUnavailableError."""

    def __init__(self, what: str, bucket: str) -> None:
        self.what, self.bucket = what, bucket

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, _: Any
    ) -> Literal[False]:
        if err is None or isinstance(err, ConditionFailedError | StoreUnavailableError):
            return False
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if isinstance(err, ClientError):
            code = _code(err)
            hint = _HINTS.get(code, "")
            raise StoreUnavailableError(
                f"cannot {self.what}: {code}{hint.format(bucket=self.bucket)}"
            ) from err
        if isinstance(err, NoCredentialsError):
            raise StoreUnavailableError(
                f"cannot {self.what}: no credentials (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            ) from err
        if isinstance(err, BotoCoreError):
            raise StoreUnavailableError(
                f"cannot {self.what}: {err} (is the object store up, and AWS_ENDPOINT_URL right?)"
            ) from err
        return False


_HINTS = {
    "NoSuchBucket": " (create the bucket {bucket!r} first, or fix ODECAST_STORE)",
    "AccessDenied": " (check that bucket {bucket!r} exists, AWS_ACCESS_KEY_ID / "
    "AWS_SECRET_ACCESS_KEY, and the bucket's policy)",
    "InvalidAccessKeyId": " (check AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": " (check AWS_SECRET_ACCESS_KEY)",
}


def _code(err: BaseException) -> str:
    """The S3 error code of a botocore ClientError (``NoSuchKey``...), else ``""``."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
