"""A small LRU of decoded, read-only arrays, bounded in bytes.

Storing a weight as a delta needs the previous versions of that weight; in a training loop
they are exactly what the last commits wrote. Keeping them (by object ID) means a commit
rarely decodes anything. Arrays are shared, never copied in: only read-only arrays go in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from coral.storage import forksafe


class ArrayCache:
    """Decoded arrays by object ID, least recently used dropped past ``max_bytes``;
    thread-safe, and safe to use again in a forked child."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._arrays: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def __contains__(self, oid: object) -> bool:
        return oid in self._arrays

    def get(self, oid: str) -> np.ndarray | None:
        with self._lock:
            arr = self._arrays.get(oid)
            if arr is not None:
                self._arrays.move_to_end(oid)
            return arr

    def put(self, oid: str, arr: np.ndarray) -> None:
        """Keep ``arr`` (which must never be written to again) under ``oid``."""
        if arr.flags.writeable:
            raise ValueError("only read-only arrays may be cached")
        if arr.nbytes > self.max_bytes:
            return
        with self._lock:
            if oid in self._arrays:
                self._arrays.move_to_end(oid)
                return
            self._arrays[oid] = arr
            self._bytes += arr.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._arrays.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._arrays.clear()
            self._bytes = 0
