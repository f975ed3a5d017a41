"""``Repository.blame``, ``bisect``, ``reflog``, ``reset`` and ``stats``: looking into a
repository's past (and stepping back in it) and into its storage, kept apart from the facade."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError
from coral.history.bisect import BisectResult, Test, Verdict, bisect_path, threshold_test
from coral.history.blame import BlameEntry, blame
from coral.history.graph import VersionGraph
from coral.records.commit import Commit
from coral.records.commits import CommitStore
from coral.records.refs import Branch, ReflogEntry, RefStore, reflog_name
from coral.storage.pack_store import PackStore


@dataclass(frozen=True)
class StorageStats:
    """What the repository would cost without Coral, and what it costs.

    Attributes:
        commits, objects: how many.
        logical_bytes: every commit's tensors at full size (one file per checkpoint).
        unique_bytes: distinct tensors at full size (what exact dedup alone would keep).
        stored_bytes: what the objects take stored (compressed, or as deltas).
        disk_bytes: the pack files on disk (stored bytes plus their indexes and HDF5 framing,
            and superseded copies until garbage collection).
        delta_objects: objects stored as deltas.
    """

    commits: int
    objects: int
    logical_bytes: int
    unique_bytes: int
    stored_bytes: int
    disk_bytes: int
    delta_objects: int

    def __str__(self) -> str:
        def mib(n: int) -> str:
            return f"{n / (1 << 20):,.1f} MiB"

        ratio = self.stored_bytes / self.logical_bytes if self.logical_bytes else 0.0
        return "\n".join(
            [
                f"{self.commits} commits, {self.objects} objects ({self.delta_objects} deltas)",
                f"  as full checkpoints: {mib(self.logical_bytes)}",
                f"  after dedup:         {mib(self.unique_bytes)}",
                f"  stored:              {mib(self.stored_bytes)} ({ratio:.1%} of full)",
                f"  on disk:             {mib(self.disk_bytes)}",
            ]
        )


class InspectCommands:
    """The inspection methods of :class:`~coral.version_control.Repository` (a mixin)."""

    store: PackStore
    version_graph: VersionGraph
    _commits: CommitStore
    _refs: RefStore
    get_commit: Callable[..., Commit]
    get_all_weights: Callable[..., Any]
    unstage: Callable[..., None]
    _who: Callable[[], str]
    resolve_ref: Callable[[str], str]
    current_branch: Any

    def blame(self, ref: str = "HEAD", *, stats: bool = True) -> dict[str, BlameEntry]:
        """For each tensor of ``ref``, the commit that gave it its current value (first-parent
        history, like ``git blame --first-parent``) and, with ``stats``, by how much it
        changed there (relative L2)."""
        start = self.get_commit(ref)

        def parent_of(commit: Commit) -> Commit | None:
            parents = commit.parent_hashes
            return self._commits.get(parents[0]) if parents else None

        def read(oid: str) -> np.ndarray:
            return self.store.read(oid)

        return blame(start, parent_of, read if stats else None)

    def reflog(self, ref: str | None = None) -> list[ReflogEntry]:
        """Where a branch has pointed, or with ``"HEAD"`` where HEAD has been, newest first:
        every commit, merge, reset, pull... (and for HEAD every checkout and detached commit),
        with who and when. ``ref@{N}`` is where it was N moves ago (``reflog(ref)[N - 1].old``),
        so ``repo.reset("main@{1}")`` undoes the last move.

        Args:
            ref: a branch name or ``"HEAD"``. Default: the current branch, as ``@{N}`` reads
                it (HEAD's reflog when HEAD is detached). ``coral reflog`` defaults to HEAD's,
                as ``git reflog`` does.

        Example:
            >>> repo.checkout("main")  # leaves a commit made on a detached HEAD  # doctest: +SKIP
            >>> left = repo.reflog("HEAD")[0].old                              # doctest: +SKIP
            >>> repo.create_branch("rescued", left)                            # doctest: +SKIP
        """
        name = ref or self.current_branch or "HEAD"
        return list(reversed(self._refs.reflog(reflog_name(name))))

    def reset(self, ref: str | None = None) -> Commit | None:
        """Like ``git reset``: without ``ref``, empty the staging area; with one, also move
        the current branch to ``ref`` (any ref, including ``main@{1}`` from the reflog: the
        way to undo a commit, a merge or a pull). The move is recorded in the branch's and
        HEAD's reflogs, so it can itself be undone. Returns the commit the branch now points
        at."""
        if ref is None:
            self.unstage(None)
            return None
        target = self.get_commit(ref)
        head = self._refs.head()
        if head.branch is None:
            raise InvalidValueError("HEAD is detached: check out a branch, then reset it")
        current = self._refs.read_branch(head.branch)
        self._refs.write_branch(
            Branch(head.branch, target.commit_hash, current.parent_branch if current else None),
            expected=head.commit_hash,
            who=self._who(),
            message=f"reset: moving to {ref}",
        )
        self.unstage(None)
        return target

    def stats(self) -> StorageStats:
        """Storage saved by deduplication, compression and deltas (see :class:`StorageStats`)."""
        commits = self.version_graph.commits()
        infos = {oid: self.store.info(oid) for oid in self.store.object_ids()}
        logical = sum(
            infos[oid].raw_nbytes if oid in infos else 0
            for c in commits.values()
            for oid in c.weight_hashes.values()
        )
        disk = sum(p.stat().st_size for p in self.store.packs_dir.glob("*") if p.is_file())
        return StorageStats(
            commits=len(commits),
            objects=len(infos),
            logical_bytes=logical,
            unique_bytes=sum(i.raw_nbytes for i in infos.values()),
            stored_bytes=sum(i.stored_nbytes for i in infos.values()),
            disk_bytes=disk,
            delta_objects=sum(1 for i in infos.values() if i.bases),
        )

    def bisect(
        self,
        good: str,
        bad: str,
        test: Test | None = None,
        *,
        metric: Callable[[Mapping[str, WeightTensor]], float] | None = None,
        threshold: float | None = None,
        bad_if: str = "above",
        check_ends: bool = True,
    ) -> BisectResult:
        """The first commit between ``good`` and ``bad`` that fails ``test``.

        Args:
            test: ``f(weights) -> True`` (good), ``False`` (bad) or ``None`` (skip); the
                weights mapping reads each tensor when it is looked up.
            metric, threshold, bad_if: instead of ``test``: bad when ``metric(weights)`` is
                ``"above"`` (default) or ``"below"`` ``threshold``.
            check_ends: evaluate ``good`` and ``bad`` first and refuse when they disagree.
        """
        if (test is None) == (metric is None):
            raise InvalidValueError("give either test= or metric= (with threshold=)")
        if metric is not None:
            if threshold is None:
                raise InvalidValueError("metric= needs threshold=")
            test = threshold_test(metric, threshold, bad_if)
        assert test is not None
        path = self._bisect_path(good, bad)
        chosen = test

        def evaluate(commit: Commit) -> Verdict:
            return chosen(self.get_all_weights(commit.commit_hash, lazy=True))

        return bisect_path(path, evaluate, check_ends=check_ends)

    def _bisect_path(self, good: str, bad: str) -> list[Commit]:
        good_hash, bad_hash = self.resolve_ref(good), self.resolve_ref(bad)
        line = [self.get_commit(bad_hash)]
        while line[-1].commit_hash != good_hash and line[-1].parent_hashes:
            line.append(self._commits.get(line[-1].parent_hashes[0]))
        if line[-1].commit_hash == good_hash:
            return list(reversed(line))
        hashes = self.version_graph.get_commit_path(good_hash, bad_hash)
        if not hashes:
            raise InvalidValueError(f"{good!r} is not an ancestor of {bad!r}: nothing to bisect")
        return [self._commits.get(h) for h in hashes]
