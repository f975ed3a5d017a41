"""A remote in a local (or mounted) folder: ``file:///backups/coral``.

Blobs are written to a temp file, fsynced and renamed into place, so a reader never sees a
torn one. Compare-and-swap holds an exclusive ``flock`` on the folder's lock file; that is
atomic between processes on one machine and on file systems whose locks are coherent
(local disks; NFSv4 with working locks).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coral.errors import RemoteError
from coral.remote.backend import (
    Backend,
    Blob,
    PreconditionFailed,
    RemoteKeyNotFound,
    content_etag,
    read_into,
)
from coral.storage.fsutil import fsync_dir

_TMP = ".tmp"
_LOCK = ".lock"


class FileBackend(Backend):
    def __init__(self, root: Path) -> None:
        self.root = root  # created by the first write: reading a missing folder finds nothing

    def _path(self, key: str) -> Path:
        path = self.root / key
        # Keys come from coral.remote.keys, never from the remote; this is a last guard.
        if ".." in key.split("/") or key.startswith("/") or key.split("/")[0] in (_TMP, _LOCK):
            raise RemoteError(f"refusing the key {key!r}")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str, max_bytes: int) -> Blob:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size > max_bytes:
                    raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
                data = fh.read()
        except FileNotFoundError:
            raise RemoteKeyNotFound(f"no {key} on the remote") from None
        return Blob(data, content_etag(data))

    def get_to_file(self, key: str, target: Path, max_bytes: int) -> int:
        try:
            with open(self._path(key), "rb") as fh:
                if os.fstat(fh.fileno()).st_size > max_bytes:
                    raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
                return read_into(fh, target, max_bytes, key)
        except FileNotFoundError:
            raise RemoteKeyNotFound(f"no {key} on the remote") from None

    def _tmp(self) -> Path:
        folder = self.root / _TMP
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RemoteError(f"cannot write to the remote folder {self.root}: {err}") from err
        return folder / uuid.uuid4().hex

    def _install(self, tmp: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        fsync_dir(target.parent)

    def put(self, key: str, data: bytes) -> None:
        tmp = self._tmp()
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            self._install(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, source: Path) -> None:
        tmp = self._tmp()
        try:
            with open(source, "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
                out.flush()
                os.fsync(out.fileno())
            self._install(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _etag(self, key: str) -> str | None:
        try:
            return content_etag(self._path(key).read_bytes())
        except FileNotFoundError:
            return None

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str:
        with self._locked():
            if self._etag(key) != etag:
                raise PreconditionFailed(f"{key} changed on the remote")
            self.put(key, data)
        return content_etag(data)

    def delete_if(self, key: str, *, etag: str) -> None:
        with self._locked():
            if self._etag(key) != etag:
                raise PreconditionFailed(f"{key} changed on the remote")
            path = self._path(key)
            path.unlink()
            fsync_dir(path.parent)

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        for folder, dirs, files in os.walk(base):
            at_root = Path(folder) == self.root
            if at_root:
                dirs[:] = [d for d in dirs if d != _TMP]
            for name in files:
                if at_root and name == _LOCK:
                    continue
                path = Path(folder) / name
                yield path.relative_to(self.root).as_posix()
