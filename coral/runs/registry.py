"""Which runs this process has open, so one is never opened twice at once by mistake.

A run is *reserved* while ``start_run`` opens it and *open* while its :class:`Run` object is
alive and not closed. A Run dropped without ``close()`` (a notebook cell run again, its old
object overwritten) no longer counts once it is garbage collected, and ``start_run(...,
resume=True)`` closes a live one first, as re-running a cell expects.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from coral.records.parts import RepositoryParts

if TYPE_CHECKING:  # a type only: run.py imports this module
    from coral.runs.run import Run

_RESERVED = object()
_lock = threading.Lock()
_open: dict[tuple[int, str], object] = {}  # key -> _RESERVED or weakref.ref[Run]


def _key(parts: RepositoryParts, name: str) -> tuple[int, str]:
    return (id(parts.records), name)


def live(parts: RepositoryParts, name: str) -> Run | None:
    """The open Run of ``name`` in this process, if any."""
    with _lock:
        entry = _open.get(_key(parts, name))
    run = entry() if isinstance(entry, weakref.ref) else None
    return run if run is not None and not run.closed else None


def is_open(parts: RepositoryParts, name: str) -> bool:
    """Whether this process has ``name`` open or is opening it."""
    with _lock:
        entry = _open.get(_key(parts, name))
    if entry is _RESERVED:
        return True
    run = entry() if isinstance(entry, weakref.ref) else None
    return run is not None and not run.closed


def reserve(parts: RepositoryParts, name: str) -> bool:
    """Mark ``name`` as being opened; False when this process has it open already."""
    key = _key(parts, name)
    with _lock:
        entry = _open.get(key)
        run = entry() if isinstance(entry, weakref.ref) else None
        if entry is _RESERVED or (run is not None and not run.closed):
            return False
        _open[key] = _RESERVED
        return True


def opened(run: Run, parts: RepositoryParts) -> None:
    """``run`` is open now (its reservation becomes the object)."""
    with _lock:
        _open[_key(parts, run.name)] = weakref.ref(run)


def release(parts: RepositoryParts, name: str) -> None:
    """``name`` is closed (or failed to open)."""
    with _lock:
        _open.pop(_key(parts, name), None)
