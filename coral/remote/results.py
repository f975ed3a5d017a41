"""What transfers report: frozen values that also read as plain dicts, as the API always returned.

``repo.push("origin")["weights_pushed"]``, ``sync["push"]``, ``status["is_synced"]`` keep
working because each result is a :class:`~collections.abc.Mapping` over its fields:
``dict(result)``, ``result.keys()``, ``"skipped" in result`` and ``result == {...}`` behave
as the plain dicts did. Displays and the command line read the attributes instead, and
``str(result)`` is the one-line summary both show.

Example:
    >>> pushed = repo.push("origin")                  # doctest: +SKIP
    >>> pushed.weights_pushed == pushed["weights_pushed"]  # doctest: +SKIP
    True
    >>> print(pushed)                                 # doctest: +SKIP
    12 weight object(s) pushed, 3.4 MiB; 2 commit(s); 40 already there
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from coral.core.sizes import human_bytes


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


class FieldMapping(Mapping[str, Any]):
    """A dataclass read as the mapping of its fields, in field order.

    Subclasses are ``@dataclass(frozen=True, eq=False)``: without a dataclass ``__eq__``,
    :class:`Mapping`'s applies, so a result equals any mapping with the same items (a dict).
    Containers in the fields (branch dicts, tag lists) are the result's own: do not change
    them.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        if key not in _field_names(type(self)):
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_field_names(type(self)))

    def __len__(self) -> int:
        return len(_field_names(type(self)))

    def as_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (for JSON): what transfers returned before."""
        return {key: _plain(value) for key, value in self.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, FieldMapping):
        return value.as_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class TransferResult(FieldMapping):
    """What a push or a pull moved: :class:`PushResult` or :class:`PullResult`.

    Attributes:
        verb: ``"pushed"`` or ``"pulled"``.
    """

    __slots__ = ()
    verb: ClassVar[str]
    bytes_transferred: int
    skipped: int
    branches_updated: dict[str, str]
    rejected: dict[str, str]

    @property
    @abstractmethod
    def objects_moved(self) -> int:
        """Tensor objects sent or received (delta bases included)."""

    @property
    @abstractmethod
    def commits_moved(self) -> int: ...

    @property
    @abstractmethod
    def tags_moved(self) -> list[str]: ...

    def __str__(self) -> str:
        return (
            f"{self.objects_moved} weight object(s) {self.verb}, "
            f"{human_bytes(self.bytes_transferred)}; {self.commits_moved} commit(s); "
            f"{self.skipped} already there"
        )


@dataclass(frozen=True, eq=False)
class PushResult(TransferResult):
    """What a push did.

    Attributes:
        weights_pushed: tensor objects uploaded (delta bases included).
        bytes_transferred: bytes uploaded (objects and commits).
        skipped: objects the push needed that the remote had already.
        commits_pushed: commit files uploaded.
        branches_updated: remote branch -> the commit it was moved to.
        tags_pushed: tags created (or, forced, moved) on the remote.
        rejected: branch or ``"tag NAME"`` -> why it was refused.
    """

    verb: ClassVar[str] = "pushed"
    weights_pushed: int = 0
    bytes_transferred: int = 0
    skipped: int = 0
    commits_pushed: int = 0
    branches_updated: dict[str, str] = field(default_factory=dict)
    tags_pushed: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def objects_moved(self) -> int:
        return self.weights_pushed

    @property
    def commits_moved(self) -> int:
        return self.commits_pushed

    @property
    def tags_moved(self) -> list[str]:
        return self.tags_pushed


@dataclass(frozen=True, eq=False)
class PullResult(TransferResult):
    """What a pull did.

    Attributes:
        weights_pulled: tensor objects downloaded, verified and installed.
        bytes_transferred: bytes downloaded (object blobs).
        skipped: objects the pulled commits need that were here already.
        commits_pulled: commits fetched.
        branches_updated: local branch -> the commit it now points at (created or moved).
        branches_created: the local branches the pull created.
        diverged: local branch -> why it was left where it is.
        tags_pulled: tags installed here.
        rejected: remote ref or key -> why it was not taken.
    """

    verb: ClassVar[str] = "pulled"
    weights_pulled: int = 0
    bytes_transferred: int = 0
    skipped: int = 0
    commits_pulled: int = 0
    branches_updated: dict[str, str] = field(default_factory=dict)
    branches_created: list[str] = field(default_factory=list)
    diverged: dict[str, str] = field(default_factory=dict)
    tags_pulled: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def objects_moved(self) -> int:
        return self.weights_pulled

    @property
    def commits_moved(self) -> int:
        return self.commits_pulled

    @property
    def tags_moved(self) -> list[str]:
        return self.tags_pulled


@dataclass(frozen=True, eq=False)
class SyncResult(FieldMapping):
    """What a sync (a pull, then a push) did.

    Attributes:
        pull, push: each half's result (a refused push's refusals in ``push.rejected``).
        total_pulled, total_pushed: tensor objects each way.
        is_synced: whether both sides agree afterwards (as :class:`SyncStatus` says).
    """

    pull: PullResult
    push: PushResult
    total_pulled: int
    total_pushed: int
    is_synced: bool

    def __str__(self) -> str:
        state = "in sync" if self.is_synced else "not in sync"
        return f"{state}; pull: {self.pull}; push: {self.push}"


@dataclass(frozen=True, eq=False)
class BranchSync(FieldMapping):
    """One branch on both sides.

    Attributes:
        local, remote: the commit each side's branch is at (None: no such branch there).
        ahead, behind: commits only this side has / only the remote has; None when unknown
            (the remote's commit is not here yet: pull to know).
    """

    local: str | None
    remote: str | None
    ahead: int | None
    behind: int | None


@dataclass(frozen=True, eq=False)
class SyncStatus(FieldMapping):
    """What a push and a pull would transfer, found without transferring.

    Attributes:
        needs_push: tensor objects (delta bases included) reachable here that the remote lacks.
        needs_pull: the remote's objects missing here.
        is_synced: nothing to move either way and every branch at the same commit.
        commits_ahead, commits_behind: commits only here / only on the remote.
        branches: branch name -> :class:`BranchSync`, for branches on either side.
    """

    needs_push: int
    needs_pull: int
    is_synced: bool
    commits_ahead: int
    commits_behind: int
    branches: dict[str, BranchSync]

    def __str__(self) -> str:
        if self.is_synced:
            return "in sync"
        return (
            f"not in sync: {self.needs_push} object(s) to push, {self.needs_pull} to pull; "
            f"{self.commits_ahead} commit(s) ahead, {self.commits_behind} behind"
        )
