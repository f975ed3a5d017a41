"""The commit DAG as a networkx graph, and the history queries built on it.

Edges point from parent to child. The graph is synced from ``objects/commits`` on every query
(one directory listing), so commits made by another process or another ``Repository`` object
show up without reopening anything. Every method that takes a commit also takes any ref
(``"main"``, ``"v1.0"``, ``"HEAD~2"``, an abbreviated hash) when the graph is the repository's.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import timezone

import networkx as nx

from coral.errors import CoralError, RefNotFoundError
from coral.records.commit import Commit
from coral.records.commits import CommitStore
from coral.records.tags import Version, VersionStore
from coral.storage import forksafe


class VersionGraph:
    """The commit graph over a commit store: ancestors, descendants, paths, merge bases,
    walks from several tips and the history of one weight. Commits are read on demand."""

    def __init__(
        self,
        commits: CommitStore,
        versions: VersionStore,
        resolve: Callable[[str], str] | None = None,
    ) -> None:
        self._commits = commits
        self._versions = versions
        self._resolve = resolve
        self._graph: nx.DiGraph = nx.DiGraph()
        self._loaded: set[str] = set()
        self.unreadable: dict[str, str] = {}
        self._lock = threading.Lock()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    # --- sync ---

    def _sync(self) -> nx.DiGraph:
        with self._lock:
            on_disk = self._commits.all_hashes()
            gone = self._loaded - set(on_disk)  # removed by gc
            if gone:
                self._graph.remove_nodes_from(gone)
                self._loaded -= gone
            for commit_hash in on_disk:
                if commit_hash in self._loaded or commit_hash in self.unreadable:
                    continue
                try:
                    commit = self._commits.get(commit_hash)
                except CoralError as err:
                    self.unreadable[commit_hash] = str(err)  # fsck reports it
                    continue
                self._graph.add_node(commit_hash)
                for parent in commit.parent_hashes:
                    self._graph.add_edge(parent, commit_hash)
                self._loaded.add(commit_hash)
        return self._graph

    @property
    def graph(self) -> nx.DiGraph:
        """The DAG (parent -> child edges) as a networkx graph; a copy, safe to modify."""
        return self._sync().copy()

    @property
    def versions(self) -> dict[str, Version]:
        """Tagged versions by ``version_id``."""
        return self._versions.all()

    def _hash(self, ref: str) -> str:
        if self._resolve is not None:
            return self._resolve(ref)
        if ref in self._commits:
            return ref
        raise RefNotFoundError(f"commit {ref!r} does not exist")

    # --- single commits ---

    def get_commit(self, commit_hash: str) -> Commit:
        """The commit a hash (or ref) names."""
        return self._commits.get(self._hash(commit_hash))

    def commits(self) -> dict[str, Commit]:
        """Every readable commit by hash."""
        return {h: self._commits.get(h) for h in self._sync().nodes if h in self._loaded}

    # --- ancestry ---

    def _parents(self, commit_hash: str) -> list[str]:
        try:
            return self._commits.get(commit_hash).parent_hashes
        except RefNotFoundError:
            return []  # a parent missing from a partial clone ends the walk

    def _bfs(self, start: str, step: Callable[[str], Iterable[str]]) -> list[str]:
        seen = {start}
        order: list[str] = []
        queue = deque([start])
        while queue:
            for nxt in step(queue.popleft()):
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
                    queue.append(nxt)
        return order

    def get_commit_ancestors(self, commit_hash: str) -> list[str]:
        """All ancestors (not the commit itself), nearest first."""
        return self._bfs(self._hash(commit_hash), self._parents)

    def get_commit_descendants(self, commit_hash: str) -> list[str]:
        """All descendants (not the commit itself), nearest first."""
        start = self._hash(commit_hash)
        graph = self._sync()
        return self._bfs(start, lambda h: sorted(graph.successors(h)) if h in graph else [])

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is ``descendant`` or one of its ancestors."""
        a, d = self._hash(ancestor), self._hash(descendant)
        return a == d or a in set(self._bfs(d, self._parents))

    def get_commit_path(self, from_hash: str, to_hash: str) -> list[str]:
        """Hashes from ``from_hash`` down to its descendant ``to_hash`` (both included);
        empty when ``to_hash`` does not descend from ``from_hash``."""
        start, end = self._hash(from_hash), self._hash(to_hash)
        graph = self._sync()
        try:
            return list(nx.shortest_path(graph, start, end))
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return []

    def get_merge_bases(self, commit1_hash: str, commit2_hash: str) -> list[str]:
        """Every best common ancestor (like ``git merge-base --all``), newest first.

        A best common ancestor is a common ancestor that is not an ancestor of another common
        ancestor. Criss-cross histories have more than one.
        """
        return self.best_common_ancestors([commit1_hash], [commit2_hash])

    def best_common_ancestors(self, left: Iterable[str], right: Iterable[str]) -> list[str]:
        """The best common ancestors of two *sets* of commits, newest first: what a merge of
        ``right`` into a commit whose parents are ``left`` would use as bases."""

        def reach(refs: Iterable[str]) -> set[str]:
            out: set[str] = set()
            for ref in refs:
                h = self._hash(ref)
                out |= {h, *self._bfs(h, self._parents)}
            return out

        common = reach(left) & reach(right)
        redundant: set[str] = set()
        for candidate in self._newest_first(common):
            if candidate not in redundant:
                redundant.update(self._bfs(candidate, self._parents))
        return self._newest_first(common - redundant)

    def get_common_ancestor(self, commit1_hash: str, commit2_hash: str) -> str | None:
        """The merge base of two commits (the newest, when criss-cross merges leave several);
        None when the histories share nothing."""
        bases = self.get_merge_bases(commit1_hash, commit2_hash)
        return bases[0] if bases else None

    def _newest_first(self, hashes: Iterable[str]) -> list[str]:
        def key(h: str) -> tuple[float, str]:
            ts = self._commits.get(h).metadata.timestamp
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=timezone.utc)
            return (-ts.timestamp(), h)

        return sorted(hashes, key=key)

    # --- histories ---

    def walk(self, starts: Iterable[str], *, first_parent: bool = False) -> Iterator[Commit]:
        """Commits reachable from ``starts`` (refs), newest first, each once — like ``git log``."""
        heap: list[tuple[float, str]] = []
        seen: set[str] = set()

        def push(commit_hash: str) -> None:
            if commit_hash in seen:
                return
            seen.add(commit_hash)
            try:
                ts = self._commits.get(commit_hash).metadata.timestamp
            except RefNotFoundError:
                return
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=timezone.utc)
            heapq.heappush(heap, (-ts.timestamp(), commit_hash))

        for start in starts:
            push(self._hash(start))
        while heap:
            _, commit_hash = heapq.heappop(heap)
            commit = self._commits.get(commit_hash)
            yield commit
            parents = commit.parent_hashes[:1] if first_parent else commit.parent_hashes
            for parent in parents:
                push(parent)

    def get_branch_history(self, commit_hash: str, max_depth: int | None = None) -> list[Commit]:
        """The first-parent chain from ``commit_hash`` back, newest first."""
        history: list[Commit] = []
        current: str | None = self._hash(commit_hash)
        while current is not None and (max_depth is None or len(history) < max_depth):
            try:
                commit = self._commits.get(current)
            except RefNotFoundError:
                break
            history.append(commit)
            current = commit.parent_hashes[0] if commit.parent_hashes else None
        return history

    def get_weight_history(
        self, weight_name: str, from_commit: str, *, changes_only: bool = False
    ) -> list[tuple[str, str]]:
        """``(commit_hash, weight_hash)`` for every commit in the history of ``from_commit``
        that holds ``weight_name``, newest first.

        Args:
            changes_only: keep only commits where the weight differs from every parent.
        """
        history = []
        for commit in self.walk([from_commit]):
            weight_hash = commit.weight_hashes.get(weight_name)
            if weight_hash is None:
                continue
            if (
                changes_only
                and commit.parent_hashes
                and all(
                    self._commits.get(p).weight_hashes.get(weight_name) == weight_hash
                    for p in commit.parent_hashes
                    if p in self._commits
                )
            ):
                continue
            history.append((commit.commit_hash, weight_hash))
        return history
