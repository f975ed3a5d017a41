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
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from coral.errors import RemoteError
from coral.remote.backend import (
    Backend,
    Blob,
    LocationNotFound,
    PreconditionFailed,
    RemoteKeyNotFound,
    content_etag,
    read_into,
)
from coral.storage.fsutil import fsync_dir

_TMP = ".tmp"
_LOCK = ".lock"


class FileBackend(Backend):
    """A remote's keys as files below ``root`` (a local or mounted folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root  # created by the first write; reading a missing one is an error

    def _path(self, key: str) -> Path:
        path = self.root / key
        # Keys come from coral.remote.keys, never from the remote; this is a last guard, and
        # a symlink planted in a shared folder cannot lead a read or write outside it.
        if ".." in key.split("/") or key.startswith("/") or key.split("/")[0] in (_TMP, _LOCK):
            raise RemoteError(f"refusing the key {key!r}")
        root = self.root.resolve()
        if root not in path.resolve().parents:
            raise RemoteError(f"refusing {key!r}: it leads outside the remote folder {root}")
        return path

    def _open_regular(self, key: str) -> BinaryIO:
        """The blob's file, refused unless it is a regular file (a FIFO or a device planted in
        a shared folder would hang a reader or never end)."""
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it).
            fd = os.open(self._path(key), os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            self._require_root()
            raise RemoteKeyNotFound(f"no {key} on the remote") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RemoteError(f"{key} on the remote is not a regular file")
        return os.fdopen(fd, "rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str, max_bytes: int) -> Blob:
        with self._open_regular(key) as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
        return Blob(data, content_etag(data))

    def get_to_file(self, key: str, target: Path, max_bytes: int) -> int:
        with self._open_regular(key) as fh:
            if os.fstat(fh.fileno()).st_size > max_bytes:
                raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
            return read_into(fh, target, max_bytes, key)

    def _tmp(self) -> Path:
        folder = self.root / _TMP
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RemoteError(f"cannot write to the remote folder {self.root}: {err}") from err
        return folder / uuid.uuid4().hex

    def _install(self, tmp: Path, key: str) -> None:
        target = self._path(key)
        try:
            created = _make_dirs(target.parent, self.root)
            os.replace(tmp, target)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as err:
            raise RemoteError(
                f"cannot write {key} on the remote: a name clashes with a folder ({err})"
            ) from None
        fsync_dir(target.parent)
        for folder in created:  # new folders' own entries must survive a crash too
            fsync_dir(folder.parent)

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
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            return "(a folder)"  # matches no etag: a put_if there fails as a precondition

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str:
        with self._locked():
            if self._etag(key) != etag:
                raise PreconditionFailed(f"{key} changed on the remote")
            self.put(key, data)
        return content_etag(data)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        fsync_dir(path.parent)
        self._prune_empty_folders(path)

    def delete_if(self, key: str, *, etag: str) -> None:
        with self._locked():
            if self._etag(key) != etag:
                raise PreconditionFailed(f"{key} changed on the remote")
            self.delete(key)

    def _prune_empty_folders(self, path: Path) -> None:
        """Empty folders left behind would block a later key of a folder's name."""
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break  # not empty

    def _require_root(self) -> None:
        """Reads of a missing folder fail: a typo in a URL is not an empty remote."""
        if not self.root.is_dir():
            raise LocationNotFound(
                f"{self.root} is a file, not a folder"
                if self.root.exists()
                else f"the folder {self.root} does not exist (check the URL; a push creates it)"
            )

    def list(self, prefix: str) -> Iterator[str]:
        self._require_root()
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


def _make_dirs(folder: Path, root: Path) -> list[Path]:
    """``mkdir -p`` that returns the folders it created, outermost first."""
    missing = []
    while not folder.exists() and folder != root:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return list(reversed(missing))
