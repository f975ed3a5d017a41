"""Reading runs back from the history: a run's commits carry its points and params in
``metadata.extra["run"]``, so any clone can list runs and draw their curves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coral.history.service import History
from coral.records.commit import Commit
from coral.records.parts import RepositoryParts
from coral.runs.journal import Journal, as_points
from coral.runs.points import Points, decode_points, merge_points
from coral.runs.record import journal_key


def run_meta(commit: Commit, name: str | None = None) -> dict[str, Any] | None:
    """A commit's run metadata (of run ``name``, if given); None for other commits."""
    meta = commit.metadata.extra.get("run")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    if name is not None and meta["name"] != name:
        return None
    return meta


def run_commits(history: History, name: str) -> Iterator[Commit]:
    """The run's commits on its branch, newest first (first parents only: a merge into the
    run is one of its commits, the merged side's are not)."""
    if not history.is_branch(name):
        return
    commit: Commit | None = history.commit(name)
    while commit is not None:
        if run_meta(commit, name) is not None:
            yield commit
        parent = commit.parent_hashes[0] if commit.parent_hashes else None
        commit = history.commit(parent) if parent else None


def committed_seq(history: History, name: str) -> int:
    """The sequence number of the last point the run's tip commit holds (0: none)."""
    if not history.is_branch(name):
        return 0
    meta = run_meta(history.commit(name), name)
    seq = meta.get("seq") if meta else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def run_points(parts: RepositoryParts, history: History, name: str) -> Points:
    """Every point of the run: those its commits hold, then those journalled after."""
    committed = []
    for commit in run_commits(history, name):
        meta = run_meta(commit, name) or {}
        committed.append(decode_points(meta.get("metrics")))
    pending = Journal(parts.records, journal_key(name)).entries(committed_seq(history, name))
    return merge_points(*reversed(committed), as_points(pending))
