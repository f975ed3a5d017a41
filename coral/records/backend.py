"""Where the records live: a small key/value interface with a disk and a memory implementation.

Every record (HEAD, branch refs, reflogs, commits, tags, the staging area, remote-tracking
refs, the config and remotes documents) is a byte string under a ``/``-separated key, the
path it has under ``.coral`` (``"HEAD"``, ``"refs/heads/main"``, ``"logs/HEAD"``,
``"objects/commits/<hash>.json"``). The record classes (:mod:`.refs`, :mod:`.commits`, ...)
know what the bytes mean; a :class:`RecordBackend` only stores them, as dulwich's
``RefsContainer`` has a ``DiskRefsContainer`` and a ``DictRefsContainer``:

- :class:`DiskRecords` writes every record durably (temp file, fsync, ``os.replace``, fsync
  of the directory), appends reflog lines with ``O_APPEND`` + fsync, and skips the temp files
  of interrupted writes when listing. It is the on-disk format, byte for byte.
- :class:`MemoryRecords` keeps them in a dict (thread-safe), for repositories in memory.

Keys form a tree, as files do, so both refuse git's D/F clash: a key cannot also be a folder
of other keys (``refs/heads/feature`` and ``refs/heads/feature/x``), raising
:class:`KeyClashError`. Compare-and-swap (:meth:`RecordBackend.write_if`) is atomic against
other writers that hold the repository lock, which every record writer takes.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from coral.errors import ConcurrentUpdateError, RefExistsError
from coral.records.keys import COMMITS, HEADS, LOGS, REMOTE_REFS, VERSIONS
from coral.storage import forksafe
from coral.storage.fsutil import MAX_JSON_BYTES, atomic_write_bytes, fsync_dir


class KeyClashError(RefExistsError):
    """A key that is a folder of other keys, or lies below another key (git's D/F rule)."""


class RecordLock(Protocol):
    """What the records need of a lock: :class:`~coral.storage.locking.RepositoryLock` on
    disk, :class:`~coral.storage.locking.ThreadLock` in memory."""

    timeout: float

    def hold(self) -> AbstractContextManager[None]: ...

    def held_by_this_thread(self) -> bool: ...


@dataclass(frozen=True)
class RecordStat:
    """When a record last changed and how big it is: a cheap change stamp (a listing cache
    keys on it) and an age (gc's grace period)."""

    mtime_ns: int
    size: int


class RecordBackend(ABC):
    """Byte records under ``/``-separated keys (see the module docstring).

    Keys are made by the record classes from validated names, never from raw user input;
    :func:`check_key` still refuses the shapes that could leave ``.coral``.
    """

    @abstractmethod
    def read(self, key: str, max_bytes: int | None = MAX_JSON_BYTES) -> bytes | None:
        """The record, or None when there is none (or ``key`` is a folder of records).

        Raises:
            ValueError: it is larger than ``max_bytes`` (checked before reading it whole);
                ``None`` reads any size (reflogs).
        """

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Create or replace a record atomically (durably, on disk).

        Raises:
            KeyClashError: ``key`` is a folder of records, or lies below a record.
        """

    @abstractmethod
    def write_if(self, key: str, data: bytes, *, expected: bytes | None) -> None:
        """Compare-and-swap: write only if the record holds ``expected`` now (``None``: only
        if there is none). Raises :class:`~coral.errors.ConcurrentUpdateError` otherwise."""

    @abstractmethod
    def append(self, key: str, data: bytes) -> None:
        """Append to a record, creating it (a reflog line; durable on disk).

        Raises:
            KeyClashError: as :meth:`write`.
            OSError: the disk refused it.
        """

    def appender(self, key: str) -> Appender:
        """Something that appends line after line to one record, cheaply: on disk it keeps
        the file open and writes with ``O_APPEND`` but no fsync, so a line survives the
        process being killed (it is in the page cache) but not a power loss until
        :meth:`Appender.sync` (a run's metric journal)."""
        return _RecordAppender(self, key)

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove a record, and folders it leaves empty; whether there was one."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove several records (gc's unreachable commits)."""
        for key in keys:
            self.delete(key)

    @abstractmethod
    def list(self, folder: str) -> list[str]:
        """The keys of every record below ``folder`` (at any depth), sorted."""

    @abstractmethod
    def stat(self, key: str) -> RecordStat | None:
        """When the record last changed and its size; None when there is none."""

    @abstractmethod
    def describe(self, key: str) -> str:
        """How error messages name a record (on disk: its path)."""


class Appender:
    """Appends to one record (see :meth:`RecordBackend.appender`)."""

    def write(self, data: bytes) -> None:
        """Append ``data`` (whole lines, so a torn write can only cut the last one)."""
        raise NotImplementedError

    def sync(self) -> None:
        """Make what was appended durable (nothing to do in memory)."""

    def close(self) -> None:
        """Release the file; another :meth:`RecordBackend.appender` may follow."""


class _RecordAppender(Appender):
    """Through :meth:`RecordBackend.append`: what a backend without open files does."""

    def __init__(self, records: RecordBackend, key: str) -> None:
        self._records = records
        self._key = key

    def write(self, data: bytes) -> None:
        self._records.append(self._key, data)


class _FileAppender(Appender):
    """An open ``O_APPEND`` descriptor (one ``write`` per line: a few microseconds)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError("the appender is closed")
        os.write(self._fd, data)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def check_key(key: str) -> list[str]:
    """The components of a record key; ValueError for one no record class would make."""
    parts = key.split("/")
    if not key or any(not p or p.startswith(".") for p in parts):
        raise ValueError(f"{key!r} is not a record key")
    return parts


def _folder_prefix(folder: str) -> str:
    check_key(folder)
    return folder + "/"


# --- on disk ---

_RECORD_ROOTS = frozenset(
    {"refs", HEADS, REMOTE_REFS, LOGS, "objects", COMMITS, VERSIONS, "staging"}
)
"""Folders a repository always has (``RepoLayout.ensure_dirs`` recreates them): deleting a
record removes the folders it leaves empty, up to one of these."""


class DiskRecords(RecordBackend):
    """Records as the files of ``coral_dir``, written through temp files in ``tmp_dir``."""

    def __init__(self, coral_dir: Path, tmp_dir: Path) -> None:
        self.coral_dir = coral_dir
        self.tmp_dir = tmp_dir

    def _path(self, key: str) -> Path:
        return self.coral_dir.joinpath(*check_key(key))

    def read(self, key: str, max_bytes: int | None = MAX_JSON_BYTES) -> bytes | None:
        try:
            with open(self._path(key), "rb") as fh:
                data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        if max_bytes is not None and len(data) > max_bytes:
            raise ValueError(f"it is larger than {max_bytes} bytes")
        return data

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            atomic_write_bytes(path, data, tmp_dir=self.tmp_dir)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise self._clash(key) from None

    def write_if(self, key: str, data: bytes, *, expected: bytes | None) -> None:
        # Atomic because every writer of a record holds the repository lock.
        if self.read(key, max_bytes=None) != expected:
            raise ConcurrentUpdateError(f"{self.describe(key)} changed; retry")
        self.write(key, data)

    def append(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise self._clash(key) from None
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def appender(self, key: str) -> Appender:
        try:
            return _FileAppender(self._path(key))
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise self._clash(key) from None

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False  # no record (a folder of records is none either)
        fsync_dir(path.parent)
        self._prune(key)
        return True

    def delete_many(self, keys: Iterable[str]) -> None:
        folders: set[Path] = set()
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
            folders.add(path.parent)
            self._prune(key)
        for folder in folders:  # one fsync per folder, not one per record
            if folder.is_dir():
                fsync_dir(folder)

    def _prune(self, key: str) -> None:
        """Remove the folders deleting ``key`` left empty: they would block a record of
        their name (a branch ``feature`` after ``feature/x`` is deleted)."""
        folder = key.rpartition("/")[0]
        while folder and folder not in _RECORD_ROOTS:
            try:
                self._path(folder).rmdir()
            except OSError:
                return  # not empty (or gone)
            folder = folder.rpartition("/")[0]

    def list(self, folder: str) -> list[str]:
        prefix = _folder_prefix(folder)
        top = self._path(folder)
        keys = []
        for dirpath, _, filenames in os.walk(top):
            rel = Path(dirpath).relative_to(top).parts
            for name in filenames:
                if name.startswith("."):
                    continue  # a temp file of an interrupted write
                keys.append(prefix + "/".join((*rel, name)))
        return sorted(keys)

    def stat(self, key: str) -> RecordStat | None:
        try:
            info = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None  # a folder of records
        return RecordStat(info.st_mtime_ns, info.st_size)

    def describe(self, key: str) -> str:
        return str(self._path(key))

    def _clash(self, key: str) -> KeyClashError:
        return KeyClashError(
            f"cannot write {self.describe(key)}: it is a folder of other records, or a "
            "folder above it is a record"
        )

    def __repr__(self) -> str:
        return f"DiskRecords({self.coral_dir})"


# --- in memory ---


class MemoryRecords(RecordBackend):
    """Records in a dict, safe to share between threads."""

    def __init__(self) -> None:
        self._data: dict[str, bytes | bytearray] = {}  # bytearray: grown by append
        self._stats: dict[str, RecordStat] = {}
        self._folders: Counter[str] = Counter()  # every folder some key lies below
        self._lock = threading.Lock()
        self._clock = 0
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def read(self, key: str, max_bytes: int | None = MAX_JSON_BYTES) -> bytes | None:
        check_key(key)
        with self._lock:
            data = self._data.get(key)
            if data is None:
                return None
            if max_bytes is not None and len(data) > max_bytes:
                raise ValueError(f"it is larger than {max_bytes} bytes")
            return bytes(data)  # a copy of a bytearray, the object itself if bytes

    def write(self, key: str, data: bytes) -> None:
        with self._lock:
            self._store(key, bytes(data))

    def write_if(self, key: str, data: bytes, *, expected: bytes | None) -> None:
        with self._lock:
            if self._data.get(key) != expected:
                raise ConcurrentUpdateError(f"{self.describe(key)} changed; retry")
            self._store(key, bytes(data))

    def append(self, key: str, data: bytes) -> None:
        with self._lock:
            current = self._data.get(key)
            if isinstance(current, bytearray):
                current += data  # in place: a long reflog is not copied per line
                self._stamp(key, len(current))
            else:
                self._store(key, bytearray(current or b"") + data)

    def _store(self, key: str, data: bytes | bytearray) -> None:
        parts = check_key(key)
        ancestors = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if key not in self._data and (
            key in self._folders or any(a in self._data for a in ancestors)
        ):
            raise KeyClashError(
                f"cannot write {key}: it is a folder of other records, or a folder above it "
                "is a record"
            )
        if key not in self._data:
            self._folders.update(ancestors)
        self._data[key] = data
        self._stamp(key, len(data))

    def _stamp(self, key: str, size: int) -> None:
        # A change stamp that moves on every write, even two within one clock tick.
        self._clock = max(self._clock + 1, time.time_ns())
        self._stats[key] = RecordStat(self._clock, size)

    def delete(self, key: str) -> bool:
        parts = check_key(key)
        with self._lock:
            if self._data.pop(key, None) is None:
                return False
            del self._stats[key]
            for folder in ("/".join(parts[:i]) for i in range(1, len(parts))):
                self._folders[folder] -= 1
                if not self._folders[folder]:
                    del self._folders[folder]  # empty now: free to become a record
            return True

    def list(self, folder: str) -> list[str]:
        prefix = _folder_prefix(folder)
        with self._lock:
            return sorted(k for k in self._data if k.startswith(prefix))

    def stat(self, key: str) -> RecordStat | None:
        check_key(key)
        return self._stats.get(key)

    def describe(self, key: str) -> str:
        return f"{key} (in memory)"

    def __repr__(self) -> str:
        return f"MemoryRecords({len(self._data)} records)"
