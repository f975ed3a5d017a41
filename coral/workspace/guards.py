"""``@writes_objects``: hold the store's write guard for a whole repository operation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from coral.storage.store import TensorStore


class _HasStore(Protocol):
    @property
    def store(self) -> TensorStore: ...


S = TypeVar("S", bound=_HasStore)
P = ParamSpec("P")
R = TypeVar("R")


def writes_objects(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """From an operation's first look at the store until what it stored is referenced (by
    the staging file, a commit or a ref), gc must not delete an object it dedups against or
    builds a delta on: hold the store's write guard throughout (see
    :mod:`coral.storage.gc_lock`)."""

    @functools.wraps(method)
    def guarded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.store.guard_writes():
            return method(self, *args, **kwargs)

    return guarded
