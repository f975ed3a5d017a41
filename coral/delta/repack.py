"""Cutting delta chains that have grown too long (``repo.repack``).

Chains are bounded when objects are written (``core.max_delta_depth``), but lowering that
setting, or receiving objects encoded under another setting, can leave longer chains. Repack
walks every object the repository needs, bases first, and rewrites in full each one whose
chain is still deeper than the limit. Reads then use the full copy (the store prefers the
shortest chain), so later objects' chains shrink too: the result has a full "keyframe" every
``max_depth + 1`` versions. Nothing is deleted; the superseded copies are garbage for gc.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from coral.storage.store import TensorStore


@dataclass(frozen=True)
class RepackResult:
    """What a repack checked and rewrote, and the deepest delta chain before and after."""

    objects_checked: int
    objects_rewritten: int
    bytes_written: int
    deepest_before: int
    deepest_after: int


def repack(store: TensorStore, oids: Iterable[str], max_depth: int) -> RepackResult:
    """Rewrite in full every object of ``oids`` (and their bases) deeper than ``max_depth``."""
    depth: dict[str, int] = {}
    order: list[str] = []

    def visit(oid: str) -> None:  # post-order: bases first
        if oid in depth:
            return
        depth[oid] = -1  # visiting
        for base in store.info(oid).bases:
            visit(base)
        order.append(oid)
        bases = store.info(oid).bases
        depth[oid] = 1 + max(depth[b] for b in bases) if bases else 0

    for oid in oids:
        visit(oid)
    deepest_before = max(depth.values(), default=0)
    rewritten = written = 0
    with store.writer() as writer:
        for oid in order:
            bases = store.info(oid).bases
            actual = 1 + max(depth[b] for b in bases) if bases else 0
            if actual > max_depth:
                writer.rewrite_full(oid, store.read(oid))
                written += writer.written[-1].stored_nbytes
                rewritten += 1
                actual = 0
            depth[oid] = actual
    return RepackResult(
        objects_checked=len(order),
        objects_rewritten=rewritten,
        bytes_written=written,
        deepest_before=deepest_before,
        deepest_after=max(depth.values(), default=0),
    )
