"""The remote storage protocol: a flat key/value store of immutable blobs, plus
compare-and-swap for the few keys that move (branch refs).

Every backend (memory, file, S3) implements this and passes one conformance suite
(:class:`coral.testing.remote.BackendTests`). Keys are ``/``-separated paths below the
remote's prefix, made only by :mod:`coral.remote.keys`, never from user input.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from coral.errors import RemoteError, RemoteNotFoundError


class PreconditionFailed(RemoteError):
    """A conditional put found the key in another state than expected (someone else won)."""


class RemoteKeyNotFound(RemoteError, KeyError):
    """No blob under that key."""


class LocationNotFound(RemoteNotFoundError):
    """The folder or bucket the remote's keys live in does not exist. Raised by reads (and by
    writes where the backend cannot create it); :class:`~coral.remote.remote.Remote` adds the
    remote's URL, which backends do not know."""


@dataclass(frozen=True)
class Blob:
    """A small blob and the tag a conditional put compares against."""

    data: bytes
    etag: str


def content_etag(data: bytes) -> str:
    """The etag file and memory backends give a blob (S3 gives its own)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Backend(ABC):
    """Where a remote's keys live: a folder or a bucket (and prefix).

    A location that does not exist is not an empty remote: reads raise
    :class:`LocationNotFound` (so a typo in a URL is not mistaken for a remote with nothing
    pushed yet), and the first write creates it where the backend can (a folder).
    """

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def get(self, key: str, max_bytes: int) -> Blob:
        """The blob under ``key``; :class:`RemoteKeyNotFound` if none (:class:`LocationNotFound`
        if the folder or bucket itself is missing), :class:`RemoteError` if it is larger than
        ``max_bytes`` (checked before reading it)."""

    @abstractmethod
    def get_to_file(self, key: str, target: Path, max_bytes: int) -> int:
        """Stream the blob into the file ``target``; returns its size. Refuses (before
        downloading) a blob larger than ``max_bytes``."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store a blob (replacing any). Used for immutable, content-named keys."""

    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Store a file's content (large ones in parts, where the backend has them)."""

    @abstractmethod
    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str:
        """Compare-and-swap: store only if the key's current etag is ``etag`` (``None``: only
        if the key does not exist). Returns the new etag; raises :class:`PreconditionFailed`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a blob; a missing key is not an error (deleting is idempotent)."""

    @abstractmethod
    def delete_if(self, key: str, *, etag: str) -> None:
        """Delete only if the key's current etag is ``etag``; :class:`PreconditionFailed`."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (a folder: ends with ``/``), in no particular order;
        :class:`LocationNotFound` if the folder or bucket is missing."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""


def read_into(stream: BinaryIO, target: Path, max_bytes: int, what: str) -> int:
    """Copy ``stream`` to ``target`` in 8 MiB chunks, stopping past ``max_bytes``."""
    total = 0
    with open(target, "wb") as out:
        while chunk := stream.read(8 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise RemoteError(f"{what} is larger than the {max_bytes} bytes expected")
            out.write(chunk)
    return total
