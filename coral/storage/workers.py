"""The worker threads that encode and decode tensors in parallel, shared by every codec.

NumPy copies and zstd release the GIL, so threads give real parallelism here; small jobs run
inline, where dispatching to a thread costs more than it saves.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from coral.core.object_id import ObjectHasher

_INLINE_BYTES = 256 << 10
"""Below this size, thread dispatch costs more than it saves."""

_WINDOW = 8
"""Tasks in flight per parallel_map (a few per core)."""

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_T = TypeVar("_T")
_R = TypeVar("_R")


def _forget_pool_after_fork() -> None:
    # A forked child inherits the pool object but none of its threads; submitting to it would
    # hang forever. Give the child a fresh pool on first use.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _worker_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="coral-codec"
            )
        return _pool


def parallel_imap(fn: Callable[[_T], _R], items: Iterable[_T], *, total_bytes: int) -> Iterator[_R]:
    """``map`` over the shared thread pool, yielding results in order as they are ready;
    inline for jobs under 256 KiB.

    ``items`` is consumed lazily, at most ``_WINDOW`` tasks ahead, so a generator of large
    items keeps only a few alive.
    """
    if total_bytes < _INLINE_BYTES:
        yield from map(fn, items)
        return
    pool = _worker_pool()
    pending: deque[Future[_R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= _WINDOW:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def parallel_map(fn: Callable[[_T], _R], items: Iterable[_T], *, total_bytes: int) -> list[_R]:
    """:func:`parallel_imap` collected into a list."""
    return list(parallel_imap(fn, items, total_bytes=total_bytes))


def map_blocks(
    fn: Callable[[np.ndarray], _R],
    blocks: Iterable[np.ndarray],
    snapshot: ObjectHasher | None,
    total_bytes: int,
) -> list[_R]:
    """Apply ``fn`` to consecutive blocks of a tensor's bytes, in parallel.

    With ``snapshot`` (the source may be changing), each worker first copies its block and
    ``fn`` sees only that copy; the copies are hashed here, in block order, as results come
    back. The hash is then the ID of exactly the bytes ``fn`` encoded, at the cost of one
    parallel memcpy instead of a serial one.
    """

    def run(block: np.ndarray) -> tuple[np.ndarray, _R]:
        private = block.copy() if snapshot is not None else block
        return private, fn(private)

    results = []
    for private, result in parallel_imap(run, blocks, total_bytes=total_bytes):
        if snapshot is not None:
            snapshot.update(private)
        results.append(result)
    return results
