"""``Repository.log``, ``diff`` and ``show``: reading history, kept apart from the facade."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coral.errors import InvalidValueError
from coral.history.diff import diff_commits
from coral.history.graph import VersionGraph
from coral.history.show import CommitView
from coral.records.branch import BranchManager
from coral.records.commit import Commit
from coral.records.commits import CommitStore
from coral.records.refs import RefStore
from coral.records.tags import VersionStore
from coral.storage.pack_store import PackStore


class HistoryCommands:
    """The history methods of :class:`~coral.version_control.Repository` (a mixin: it uses
    the repository's collaborators, declared here)."""

    store: PackStore
    version_graph: VersionGraph
    branch_manager: BranchManager
    _commits: CommitStore
    _refs: RefStore
    _versions: VersionStore
    get_commit: Callable[..., Commit]
    _verify_reads: Callable[[], bool]

    def log(self, max_commits: int | None = None, branch: str | None = None) -> list[Commit]:
        """Commits reachable from ``branch`` (default: HEAD), newest first; [] before the first
        commit."""
        if max_commits is not None and (
            not isinstance(max_commits, int) or isinstance(max_commits, bool) or max_commits < 0
        ):
            raise InvalidValueError(f"max_commits must be a non-negative int, got {max_commits!r}")
        if branch is None:
            if self._refs.head().commit_hash is None:
                return []
            start = "HEAD"
        else:
            start = branch
        out: list[Commit] = []
        for commit in self.version_graph.walk([start]):
            if max_commits is not None and len(out) >= max_commits:
                break
            out.append(commit)
        return out

    def diff(
        self, from_ref: str, to_ref: str | None = None, *, stats: bool = False
    ) -> dict[str, Any]:
        """Weights added, removed and modified between two commits (``to_ref`` defaults to HEAD).

        Args:
            stats: add ``modified[name]["stats"]``: L2 of the change, relative change, cosine
                similarity, max abs difference and fraction of elements changed.
        """
        old = self.get_commit(from_ref)
        new = self.get_commit(to_ref if to_ref is not None else "HEAD")
        load = (lambda oid: self.store.read(oid, verify=self._verify_reads())) if stats else None
        return diff_commits(old, new, load)

    def show(self, ref: str = "HEAD") -> CommitView:
        """One commit: message, author, the refs on it, what it changed against its first
        parent, and for a merge how it was made (strategy, parameters, resolved conflicts).
        ``print(repo.show("main"))`` reads like ``git show --stat``."""
        commit = self.get_commit(ref)
        if commit.parent_hashes:
            parent = self._commits.get(commit.parent_hashes[0])
        else:
            parent = Commit.create([], {}, commit.metadata)
        tags = [v for v in self._versions.all().values() if v.commit_hash == commit.commit_hash]
        return CommitView(
            commit=commit,
            changes=diff_commits(parent, commit),
            branches=sorted(
                b.name
                for b in self.branch_manager.list_branches()
                if b.commit_hash == commit.commit_hash
            ),
            head=self._refs.head().commit_hash == commit.commit_hash,
            tags=sorted(v.name for v in tags),
            metrics={v.name: dict(v.metrics or {}) for v in tags},
        )
