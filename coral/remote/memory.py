"""A remote in a dict: the conformance suite's fastest backend, and scratch work.

It has no URL scheme: a caller hands an instance in (``coral.remote.open_remote(name, label,
backend=MemoryBackend())``), and two repositories share a remote by sharing the instance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from coral.errors import RemoteError
from coral.remote.backend import Backend, Blob, PreconditionFailed, RemoteKeyNotFound, content_etag


class MemoryBackend(Backend):
    """A remote's keys in a dict of this process, empty when made; closing it keeps them."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def exists(self, key: str) -> bool:
        return key in self._blobs

    def _get(self, key: str, max_bytes: int) -> bytes:
        try:
            data = self._blobs[key]
        except KeyError:
            raise RemoteKeyNotFound(f"no {key} on the remote") from None
        if len(data) > max_bytes:
            raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
        return data

    def get(self, key: str, max_bytes: int) -> Blob:
        data = self._get(key, max_bytes)
        return Blob(data, content_etag(data))

    def get_to_file(self, key: str, target: Path, max_bytes: int) -> int:
        data = self._get(key, max_bytes)
        target.write_bytes(data)
        return len(data)

    def put(self, key: str, data: bytes) -> None:
        self._blobs[key] = bytes(data)

    def put_file(self, key: str, source: Path) -> None:
        self._blobs[key] = source.read_bytes()

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str:
        with self._lock:
            current = self._blobs.get(key)
            if (None if current is None else content_etag(current)) != etag:
                raise PreconditionFailed(f"{key} changed on the remote")
            self._blobs[key] = bytes(data)
        return content_etag(data)

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(key, None)

    def delete_if(self, key: str, *, etag: str) -> None:
        with self._lock:
            current = self._blobs.get(key)
            if current is None or content_etag(current) != etag:
                raise PreconditionFailed(f"{key} changed on the remote")
            del self._blobs[key]

    def list(self, prefix: str) -> Iterator[str]:
        return iter([k for k in list(self._blobs) if k.startswith(prefix)])
