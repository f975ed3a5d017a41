"""The repository write lock.

Writers that change refs, HEAD, staging, tags or config hold one advisory lock on
``.coral/lock``. It is an ``flock``, not a pid file: the kernel drops it when the holder dies,
so a SIGKILLed process can never leave a stale lock behind. Object packs are written outside
the lock (they are immutable and content-addressed), so the lock is only held for the few
small file writes that publish them.

The holder writes its PID and the time into the file, so a process that times out waiting can
say who holds the lock and since when. There is nothing to "break": when the holder dies the
kernel releases the lock, and the next process takes it (the stale text is overwritten).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from coral.errors import LockTimeoutError
from coral.storage import forksafe

DEFAULT_LOCK_TIMEOUT = 60.0


class RepositoryLock:
    """A re-entrant (per thread) inter-process lock on one file."""

    def __init__(self, path: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._thread_lock = threading.Lock()
        self._held_fd = -1
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        # The child does not hold the lock, whatever the parent was doing. Close (never
        # unlock: the open file description is shared) an inherited descriptor, so a killed
        # parent's lock is not kept alive by its child.
        self._local = threading.local()
        self._thread_lock = threading.Lock()
        if self._held_fd >= 0:
            os.close(self._held_fd)
            self._held_fd = -1

    def held_by_this_thread(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def hold(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        fd = self._acquire()
        self._held_fd = fd
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            self._held_fd = -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            self._thread_lock.release()

    def _acquire(self) -> int:
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self._timeout_error()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except BaseException:
            self._thread_lock.release()
            raise
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                record_holder(fd)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    self._thread_lock.release()
                    raise self._timeout_error() from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            except BaseException:
                os.close(fd)
                self._thread_lock.release()
                raise

    def _timeout_error(self) -> LockTimeoutError:
        return LockTimeoutError(
            f"{describe_holder(self.path)} has held the repository lock {self.path} for more "
            f"than {self.timeout:g}s; wait for it to finish (a crashed process releases it "
            "automatically) or raise core.lock_timeout"
        )


def record_holder(fd: int) -> None:
    """Write "PID UNIX-TIME" into a lock file just taken (best effort: it is only a hint)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)
    except OSError:
        pass


def describe_holder(path: Path) -> str:
    """ "process 1234 (running, since 2026-11-28 22:58:01 UTC)", from what the holder wrote."""
    try:
        pid_text, when_text = path.read_text()[:100].split()[:2]
        pid, when = int(pid_text), float(when_text)
    except (OSError, ValueError):
        return "another process"
    try:
        os.kill(pid, 0)
        state = "running"
    except ProcessLookupError:
        state = "exited; a process it started holds the lock now"
    except PermissionError:
        state = "running, as another user"
    since = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"process {pid} ({state}, since {since})"


class ThreadLock:
    """:class:`RepositoryLock`'s interface for a repository in memory: one process, so a
    re-entrant (per thread) thread lock is all it takes."""

    def __init__(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.RLock()
        self._local = threading.local()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        # The child holds nothing, whatever thread of the parent held the lock.
        self._lock = threading.RLock()
        self._local = threading.local()

    def held_by_this_thread(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.timeout):
            raise LockTimeoutError(
                f"another thread has held the repository lock for more than {self.timeout:g}s; "
                "wait for it to finish or raise core.lock_timeout"
            )
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            self._lock.release()
