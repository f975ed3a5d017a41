"""``History``: everything that reads a repository's past, built from its parts.

Resolving refs, walking the graph, ``log``, ``diff``, ``show``, ``blame``, ``bisect``, the
reflog, the refs every view decorates commits with, and reading weights back. Nothing here
writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.errors import InvalidValueError, WeightNotFoundError
from coral.history.bisect import BisectResult, Test, Verdict, bisect_path, threshold_test
from coral.history.blame import BlameEntry, blame
from coral.history.diff import diff_commits
from coral.history.graph import VersionGraph
from coral.history.lazy import LazyWeights
from coral.history.resolve import RefResolver
from coral.history.show import CommitView
from coral.records.assets import weight_names
from coral.records.commit import Commit
from coral.records.parts import RepositoryParts
from coral.records.refs import ReflogEntry, reflog_name
from coral.records.weight_names import check_weight_name, missing_weight_message


class History:
    """The read side of a repository: refs, commits, the graph and the weights they hold."""

    def __init__(self, parts: RepositoryParts) -> None:
        self._parts = parts
        self.resolver = RefResolver(parts.refs, parts.commits, parts.versions, parts.tracking)
        self.graph = VersionGraph(parts.commits, parts.versions, self.resolve)

    # --- refs and commits ---

    def resolve(self, ref: str) -> str:
        """The full commit hash for a branch, tag, (abbreviated) hash, ``HEAD`` or ``X~N``."""
        return self.resolver.resolve(ref)

    def commit(self, ref: str = "HEAD") -> Commit:
        return self._parts.commits.get(self.resolve(ref))

    def head_commit(self) -> Commit | None:
        head = self._parts.refs.head()
        return self._parts.commits.get(head.commit_hash) if head.commit_hash else None

    def is_branch(self, ref: str) -> bool:
        return self._parts.refs.branch_exists(ref)

    def is_tag(self, ref: str) -> bool:
        return self._parts.versions.by_name(ref) is not None

    def ref_tips(self, *, include_head: bool = True) -> list[str]:
        """The commit of every branch and tag (and of HEAD, which may be detached): where
        every view of the whole history starts. No duplicates, in a stable order."""
        tips = [b.commit_hash for b in self._parts.refs.list_branches()]
        tips += [v.commit_hash for v in self._parts.versions.all().values()]
        head = self._parts.refs.head().commit_hash
        if include_head and head is not None:
            tips.append(head)
        return list(dict.fromkeys(tips))

    def ref_labels(self) -> dict[str, list[str]]:
        """commit hash -> its refs as git decorates them: ``HEAD -> main``, ``HEAD`` (when
        detached), ``main``, ``tag: v1``, ``origin/main``. The one spelling every view uses."""
        labels: dict[str, list[str]] = {}
        head = self._parts.refs.head()
        for branch in self._parts.refs.list_branches():
            name = f"HEAD -> {branch.name}" if branch.name == head.branch else branch.name
            labels.setdefault(branch.commit_hash, []).append(name)
        if head.branch is None and head.commit_hash:
            labels.setdefault(head.commit_hash, []).insert(0, "HEAD")
        for name, commit_hash in self._parts.tracking.every_ref().items():
            labels.setdefault(commit_hash, []).append(name)
        for version in self._parts.versions.all().values():
            labels.setdefault(version.commit_hash, []).append(f"tag: {version.name}")
        return labels

    # --- history queries ---

    def log(self, max_commits: int | None = None, branch: str | None = None) -> list[Commit]:
        """Commits reachable from ``branch`` (default: HEAD), newest first; [] before the first
        commit."""
        if max_commits is not None and (
            not isinstance(max_commits, int) or isinstance(max_commits, bool) or max_commits < 0
        ):
            raise InvalidValueError(f"max_commits must be a non-negative int, got {max_commits!r}")
        if branch is None:
            if self._parts.refs.head().commit_hash is None:
                return []
            branch = "HEAD"
        out: list[Commit] = []
        for commit in self.graph.walk([branch]):
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
        old = self.commit(from_ref)
        new = self.commit(to_ref if to_ref is not None else "HEAD")
        return diff_commits(old, new, self.read_object if stats else None)

    def show(self, ref: str = "HEAD") -> CommitView:
        """One commit: message, author, the refs on it, what it changed against its first
        parent, and for a merge how it was made (strategy, parameters, resolved conflicts).
        ``print(repo.show("main"))`` reads like ``git show --stat``."""
        commit = self.commit(ref)
        parent = self._first_parent(commit) or Commit.create([], {}, commit.metadata)
        tags = [
            v for v in self._parts.versions.all().values() if v.commit_hash == commit.commit_hash
        ]
        return CommitView(
            commit=commit,
            changes=diff_commits(parent, commit),
            branches=sorted(
                b.name
                for b in self._parts.refs.list_branches()
                if b.commit_hash == commit.commit_hash
            ),
            head=self._parts.refs.head().commit_hash == commit.commit_hash,
            tags=sorted(v.name for v in tags),
            metrics={v.name: dict(v.metrics or {}) for v in tags},
        )

    def blame(self, ref: str = "HEAD", *, stats: bool = True) -> dict[str, BlameEntry]:
        """For each tensor of ``ref``, the commit that gave it its current value (first-parent
        history, like ``git blame --first-parent``) and, with ``stats``, by how much it
        changed there (relative L2)."""
        return blame(self.commit(ref), self._first_parent, self.read_object if stats else None)

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
        name = ref or self._parts.refs.head().branch or "HEAD"
        return list(reversed(self._parts.refs.reflog(reflog_name(name))))

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

        Returns:
            The :class:`BisectResult`; ``first_bad`` is None (and ``undecided`` lists the
            candidates) when only skipped commits were left between good and bad.
        """
        if (test is None) == (metric is None):
            raise InvalidValueError("give either test= or metric= (with threshold=)")
        if metric is not None:
            if threshold is None:
                raise InvalidValueError("metric= needs threshold=")
            test = threshold_test(metric, threshold, bad_if)
        assert test is not None
        chosen = test

        def evaluate(commit: Commit) -> Verdict:
            return chosen(self.lazy_weights(commit))

        return bisect_path(self._bisect_path(good, bad), evaluate, check_ends=check_ends)

    def _bisect_path(self, good: str, bad: str) -> list[Commit]:
        good_hash, bad_hash = self.resolve(good), self.resolve(bad)
        line = [self._parts.commits.get(bad_hash)]
        while line[-1].commit_hash != good_hash and (parent := self._first_parent(line[-1])):
            line.append(parent)
        if line[-1].commit_hash == good_hash:
            return list(reversed(line))
        hashes = self.graph.get_commit_path(good_hash, bad_hash)
        if not hashes:
            raise InvalidValueError(f"{good!r} is not an ancestor of {bad!r}: nothing to bisect")
        return [self._parts.commits.get(h) for h in hashes]

    def _first_parent(self, commit: Commit) -> Commit | None:
        parents = commit.parent_hashes
        return self._parts.commits.get(parents[0]) if parents else None

    # --- reading weights ---

    def read_object(self, oid: str) -> np.ndarray:
        """One stored object, bit-exact (verified when ``core.verify_reads`` says so)."""
        return self._parts.store.read(oid, verify=self._parts.verify_reads())

    def weight(self, name: str, commit: Commit) -> WeightTensor:
        """The weight ``name`` of ``commit``."""
        oid = commit.weight_hashes.get(check_weight_name(name))
        if oid is None:
            raise WeightNotFoundError(
                missing_weight_message(name, commit.weight_hashes, f"commit {commit.short_hash}")
            )
        arr = self.read_object(oid)
        return WeightTensor._trusted(arr, _metadata(commit, name, arr), oid)

    def weights(self, commit: Commit) -> dict[str, WeightTensor]:
        """Every weight of ``commit`` (not its model files or optimizer state), read with both
        cores."""
        names = weight_names(commit.weight_hashes)
        oids = [commit.weight_hashes[name] for name in names]
        arrays = self._parts.store.read_many(oids, verify=self._parts.verify_reads())
        return {
            name: WeightTensor._trusted(arr, _metadata(commit, name, arr), oid)
            for name, oid, arr in zip(names, oids, arrays, strict=True)
        }

    def lazy_weights(self, commit: Commit) -> LazyWeights:
        """A mapping of ``commit``'s weights that reads each one when it is looked up."""
        return LazyWeights(commit, self.weight, weight_names(commit.weight_hashes))


def _metadata(commit: Commit, name: str, arr: np.ndarray) -> WeightMetadata:
    return commit.weight_metadata.get(name) or WeightMetadata(name, arr.shape, arr.dtype)
