"""Read descriptors of immutable pack files, shared by reader threads.

An LRU keeps a bounded number open. A descriptor is closed only when no read is using it:
closing one another thread is reading through would let the kernel hand its number to the
next file opened, and that read would then return another pack's bytes.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from coral.storage import forksafe


class DescriptorCache:
    """Open file descriptors of pack files, at most ``max_open``; a descriptor dropped from
    the cache while a reader uses it is closed when that reader is done."""

    def __init__(self, max_open: int) -> None:
        self._max_open = max_open
        self._open: OrderedDict[str, int] = OrderedDict()
        self._users: Counter[int] = Counter()
        self._retired: set[int] = set()  # dropped from the cache, closed when unused
        self._lock = threading.Lock()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    @contextmanager
    def lease(self, name: str, opener: Callable[[], int]) -> Iterator[int]:
        """The descriptor of ``name`` (opened by ``opener`` if needed), open until the
        ``with`` block ends."""
        with self._lock:
            fd = self._open.get(name)
            if fd is None:
                fd = opener()
                self._open[name] = fd
                while len(self._open) > self._max_open:
                    self._retire(self._open.popitem(last=False)[1])
            else:
                self._open.move_to_end(name)
            self._users[fd] += 1
        try:
            yield fd
        finally:
            with self._lock:
                self._users[fd] -= 1
                if not self._users[fd]:
                    del self._users[fd]
                    if fd in self._retired:
                        self._retired.discard(fd)
                        os.close(fd)

    def forget(self, name: str) -> None:
        """Drop ``name``'s descriptor (its file was deleted)."""
        with self._lock:
            fd = self._open.pop(name, None)
            if fd is not None:
                self._retire(fd)

    def close_all(self) -> None:
        with self._lock:
            while self._open:
                self._retire(self._open.popitem()[1])

    def _retire(self, fd: int) -> None:
        if self._users.get(fd):
            self._retired.add(fd)
        else:
            os.close(fd)
