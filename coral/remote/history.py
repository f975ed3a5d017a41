"""Walking commit history for transfers: what one side has that the other lacks."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from coral.storage.store import TensorStore
from coral.version_control.commit import Commit


def reachable(
    starts: Iterable[str], parents: Callable[[str], Iterable[str]], stop: set[str]
) -> list[str]:
    """Commit hashes reachable from ``starts`` without passing through ``stop``, each once."""
    seen: set[str] = set()
    order: list[str] = []
    stack = [h for h in starts if h not in stop]
    while stack:
        commit_hash = stack.pop()
        if commit_hash in seen or commit_hash in stop:
            continue
        seen.add(commit_hash)
        order.append(commit_hash)
        stack.extend(parents(commit_hash))
    return order


def parents_first(commits: dict[str, Commit]) -> list[Commit]:
    """``commits`` ordered so each comes after any of its parents that are among them."""
    order: list[Commit] = []
    done: set[str] = set()
    for start in commits:
        stack = [(start, False)]
        while stack:
            commit_hash, expanded = stack.pop()
            if expanded:
                order.append(commits[commit_hash])
                continue
            if commit_hash in done or commit_hash not in commits:
                continue
            done.add(commit_hash)
            stack.append((commit_hash, True))
            stack.extend((p, False) for p in commits[commit_hash].parent_hashes)
    return order


def object_closure(oids: Iterable[str], store: TensorStore) -> set[str]:
    """The objects ``oids`` need to be read back: themselves and every delta base below."""
    closure: set[str] = set()
    stack = list(oids)
    while stack:
        oid = stack.pop()
        if oid in closure:
            continue
        closure.add(oid)
        stack.extend(store.info(oid).bases)
    return closure


def weight_objects(commits: Iterable[Commit]) -> set[str]:
    return {oid for commit in commits for oid in commit.weight_hashes.values()}
