"""Lanes for drawing a commit history the way ``git log --graph`` does.

Commits come newest first in a topological order (every child before its parents). Each
commit sits in a lane (a column); a lane "waits" for the next commit it leads to. A commit takes
the lane that waits for it (the leftmost, when branches meet at it), hands that lane to its
first parent, and opens lanes for its other parents (or joins a lane already waiting for one).
Every renderer (notebook tables, the DAG widget, the JupyterLab sidebar, the CLI) draws from
these rows, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timezone

import networkx as nx

from coral.records.commit import Commit


@dataclass(frozen=True)
class GraphRow:
    """One commit's row.

    Attributes:
        commit: the commit.
        lane: its column.
        incoming: lanes with a line coming down into this row, as (lane, ends_here): lines
            that end at this commit (it is what they waited for) bend into ``lane``.
        outgoing: lanes leaving this row downwards from the commit, one per parent shown.
        through: lanes passing by this row untouched.
        width: lanes in use in this row (for sizing a drawing).
    """

    commit: Commit
    lane: int
    incoming: tuple[tuple[int, bool], ...]
    outgoing: tuple[int, ...]
    through: tuple[int, ...]
    width: int


def topological_newest_first(commits: Iterable[Commit]) -> list[Commit]:
    """Children before parents; among commits free to come next, the newest first."""
    by_hash = {c.commit_hash: c for c in commits}
    graph = nx.DiGraph()
    graph.add_nodes_from(by_hash)
    for c in by_hash.values():
        for parent in c.parent_hashes:
            if parent in by_hash:
                graph.add_edge(c.commit_hash, parent)

    def newest(h: str) -> tuple[float, str]:
        ts = by_hash[h].metadata.timestamp
        return (-(ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)).timestamp(), h)

    return [by_hash[h] for h in nx.lexicographical_topological_sort(graph, key=newest)]


def layout(commits: Sequence[Commit]) -> list[GraphRow]:
    """Lanes for ``commits`` (newest first, topologically ordered; parents outside the list
    get lanes that simply run off the bottom)."""
    waiting: list[str | None] = []  # lane -> the commit hash that lane leads to next
    rows = []
    for commit in commits:
        h = commit.commit_hash
        mine = [i for i, w in enumerate(waiting) if w == h]
        lane = mine[0] if mine else _free_lane(waiting)
        incoming = tuple((i, w == h) for i, w in enumerate(waiting) if w is not None)
        for i in mine:
            waiting[i] = None
        outgoing: list[int] = []
        for n, parent in enumerate(commit.parent_hashes):
            # The first parent continues this lane (lanes leading to one commit converge at
            # its row, leftmost wins); another parent joins a lane already leading to it.
            if n > 0 and parent in waiting:
                outgoing.append(waiting.index(parent))
                continue
            target = lane if n == 0 else _free_lane(waiting)
            waiting[target] = parent
            outgoing.append(target)
        through = tuple(i for i, ends in incoming if not ends)
        while waiting and waiting[-1] is None:
            waiting.pop()
        width = max([lane, *outgoing, *(i for i, _ in incoming)]) + 1
        rows.append(GraphRow(commit, lane, incoming, tuple(outgoing), through, width))
    return rows


def _free_lane(waiting: list[str | None]) -> int:
    for i, w in enumerate(waiting):
        if w is None:
            return i
    waiting.append(None)
    return len(waiting) - 1
