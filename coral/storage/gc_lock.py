"""The lock that keeps garbage collection away from objects a writer is about to reference.

A writer deduplicates against objects already stored and builds deltas on them, then
publishes something that names them (the staging file, a commit and its ref). Between those
two moments an object it relies on may look unreachable: a revert to weights last seen on a
deleted branch, say. git closes that window by freshening object mtimes and hoping the grace
period covers it; Coral closes it outright. Writers hold this lock *shared* from the moment
they look at the store until what they wrote is reachable; gc holds it *exclusive* while it
decides what is garbage and deletes it. It is an ``flock``, so a killed process never leaves
it held.

Order: this lock before the repository lock, always (gc takes both in that order too).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coral.errors import LockOrderError, LockTimeoutError
from coral.storage import forksafe
from coral.storage.locking import RepositoryLock, describe_holder, record_holder


class GcLock:
    """Shared for writers, exclusive for gc; re-entrant within a thread.

    Args:
        path: the lock file.
        timeout: seconds to wait before raising :class:`LockTimeoutError`.
        outer: the repository lock, which must never be held when this one is first taken
            (taking them in the other order could deadlock against gc).
    """

    def __init__(
        self, path: Path, timeout: float = 60.0, outer: RepositoryLock | None = None
    ) -> None:
        self.path = path
        self.timeout = timeout
        self._outer = outer
        self._local = threading.local()
        self._held_fds: set[int] = set()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        # The child holds nothing; close (never unlock: the description is shared with the
        # parent) whatever descriptors it inherited.
        self._local = threading.local()
        for fd in self._held_fds:
            os.close(fd)
        self._held_fds = set()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Held by a writer from its first look at the store until its result is published."""
        if getattr(self._local, "depth", 0):  # already shared or exclusive in this thread
            with self._nested():
                yield
            return
        if self._outer is not None and self._outer.held_by_this_thread():
            raise LockOrderError(
                "a write started while this thread holds the repository lock (from a callback "
                "of a locked operation?); nothing was written: write after that operation"
            )
        with self._holding(fcntl.LOCK_SH):
            yield

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Held by gc: no writer is between looking at the store and publishing."""
        if getattr(self._local, "depth", 0):
            if self._local.mode != fcntl.LOCK_EX:
                raise LockOrderError(
                    "gc cannot run inside a write (from a stage_weights progress callback, "
                    "say); nothing was collected: call gc after the write has returned"
                )
            with self._nested():
                yield
            return
        with self._holding(fcntl.LOCK_EX):
            yield

    @contextmanager
    def _nested(self) -> Iterator[None]:
        self._local.depth += 1
        try:
            yield
        finally:
            self._local.depth -= 1

    @contextmanager
    def _holding(self, mode: int) -> Iterator[None]:
        fd = self._acquire(mode)
        self._held_fds.add(fd)
        self._local.depth, self._local.mode = 1, mode
        try:
            yield
        finally:
            self._local.depth = 0
            self._held_fds.discard(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _acquire(self, mode: int) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        try:
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    if mode == fcntl.LOCK_EX:
                        record_holder(fd)
                    return fd
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._timeout_error(mode) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
        except BaseException:
            os.close(fd)
            raise

    def _timeout_error(self, mode: int) -> LockTimeoutError:
        if mode == fcntl.LOCK_EX:
            what = "other processes are writing objects"
        else:
            what = f"garbage collection (gc) is running in {describe_holder(self.path)}"
        return LockTimeoutError(
            f"waited {self.timeout:g}s on {self.path}: {what}; try again when it has "
            "finished, or raise core.lock_timeout"
        )
