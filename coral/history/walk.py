"""Walking history and delta chains: what is reachable, what a side lacks, in what order."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from coral.records.commit import Commit
from coral.storage.store import TensorStore


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


def dependencies_first(nodes: Iterable[str], needs: Callable[[str], Iterable[str]]) -> list[str]:
    """``nodes`` ordered so each comes after what it ``needs`` among them (parents before
    children, delta bases before deltas); cycles are cut, not followed forever."""
    given = list(nodes)
    wanted = set(given)
    order: list[str] = []
    done: set[str] = set()
    for start in given:  # in the order given, so the result is reproducible
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in done or node not in wanted:
                continue
            done.add(node)
            stack.append((node, True))
            stack.extend((n, False) for n in needs(node))
    return order


def parents_first(commits: dict[str, Commit]) -> list[Commit]:
    """``commits`` ordered so each comes after any of its parents that are among them."""
    order = dependencies_first(commits, lambda h: commits[h].parent_hashes)
    return [commits[h] for h in order]


def closure(starts: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    """Everything reachable from ``starts`` by ``step`` (parents, delta bases), with them."""
    return set(reachable(starts, step, set()))


def object_closure(oids: Iterable[str], store: TensorStore) -> set[str]:
    """The objects ``oids`` need to be read back: themselves and every delta base below."""
    return closure(oids, lambda oid: store.info(oid).bases)


def weight_objects(commits: Iterable[Commit]) -> set[str]:
    return {oid for commit in commits for oid in commit.weight_hashes.values()}
