"""Named byte objects under a prefix: what a checkpoint is written to in an object store.

A local checkpoint is a directory (`pathlib.Path`); one in S3-compatible storage is an
`ObjectFolder`. Object stores have no rename, so a checkpoint there is committed differently
(see `models.checkpoint`); this protocol is all the checkpoint code needs from one.
"""

from __future__ import annotations

from typing import Protocol


class ObjectFolder(Protocol):
    """Objects whose keys share a prefix, named relative to it (``"meta.json"``)."""

    @property
    def url(self) -> str:
        """Where the folder is, for messages (``s3://bucket/prefix/``)."""
        ...

    def read(self, name: str) -> bytes | None:
        """The object's bytes, or None if there is no such object."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """Create or replace the object: readers see the old bytes or the new, never a part."""
        ...

    def delete(self, name: str) -> None:
        """Remove the object; nothing happens if there is none."""
        ...

    def names(self) -> list[str]:
        """The names of every object in the folder, nested ones as ``"sub/name"``."""
        ...
