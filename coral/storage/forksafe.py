"""Keeping locks usable in a process forked while another thread held them.

``os.fork`` copies a lock in whatever state it is, but not the thread that would release it,
so a child forked mid-operation (a DataLoader worker, multiprocessing's "fork" start method)
would hang on its first repository call. Objects that own locks register here and get a
chance to replace them in the child.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class ForkAware(Protocol):
    """An object holding locks that must be new in a forked child."""

    def _after_fork_in_child(self) -> None: ...


_instances: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(obj: ForkAware) -> None:
    _instances.add(obj)


def _reinit_all() -> None:
    for obj in list(_instances):
        obj._after_fork_in_child()


os.register_at_fork(after_in_child=_reinit_all)
