"""``Maintenance``: repack, gc, fsck and storage statistics over a repository's parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from coral.delta.repack import RepackResult, repack
from coral.errors import InvalidValueError
from coral.history.service import History
from coral.maintenance.fsck import Fsck, FsckReport
from coral.maintenance.gc import GarbageCollector, GcReport
from coral.records.expiry import parse_expiry
from coral.records.parts import RepositoryParts
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


class Maintenance:
    """Keeping a repository's store healthy, and proving it is."""

    def __init__(self, parts: RepositoryParts, history: History) -> None:
        self._parts = parts
        self._history = history

    def repack(self, max_depth: int | None = None) -> RepackResult:
        """Rewrite in full the stored weights whose delta chains are deeper than ``max_depth``
        (default ``core.max_delta_depth``), so every read decodes a bounded number of objects.

        Returns how many objects were checked and rewritten, and the chain depths before and
        after. Superseded copies stay on disk until garbage collection.
        """
        limit = (
            int(self._parts.config.get("core.max_delta_depth")) if max_depth is None else max_depth
        )
        if isinstance(limit, bool) or limit < 0:
            raise InvalidValueError(f"max_depth must be a non-negative int, got {max_depth!r}")
        needed = {
            oid for c in self._history.graph.commits().values() for oid in c.weight_hashes.values()
        }
        for area in self._parts.staging_areas().values():
            needed |= {w.object_id for w in area.read().weights.values()}
        return repack(self._parts.store, sorted(needed), limit)

    def gc(
        self,
        *,
        prune: str | float | timedelta | None = None,
        dry_run: bool = False,
        reflog_expire: str | float | timedelta | None = None,
    ) -> GcReport:
        """Delete what nothing needs any more, and merge small packs into one.

        Kept: everything reachable from HEAD, branches, tags, remote-tracking refs, the
        staging area and the reflog, with every delta base below it; and whatever is younger
        than the grace period (unreferenced commits, packs holding unreferenced objects,
        temp files). Safe beside running writers, even with ``prune="now"``.

        Args:
            prune: the grace period: ``"now"``, ``"never"``, ``"2.weeks.ago"``, ``"3d"``, a
                number of seconds or a ``timedelta`` (default ``gc.prune_expire``, 2 weeks).
            dry_run: only report what would be removed; takes no lock, changes nothing.
            reflog_expire: reflog entries older than this whose commits no ref reaches any
                more are dropped first (default ``gc.reflog_expire_unreachable``, 30 days).

        Returns:
            A :class:`GcReport`: what went (or would go), bytes freed, packs before and
            after, and for each ref the bytes only it keeps alive.
        """
        grace = _expiry("prune", prune, self._parts.config.get("gc.prune_expire"))
        expire = _expiry(
            "reflog_expire", reflog_expire, self._parts.config.get("gc.reflog_expire_unreachable")
        )
        collector = GarbageCollector(self._parts, self._pack_store("gc"))
        return collector.run(prune=grace, reflog_expire=expire, dry_run=dry_run)

    def fsck(self, *, verify_objects: bool = True) -> FsckReport:
        """Check everything: re-hash every object, follow every commit, ref, tag and staged entry.

        Returns a report; ``report.ok`` is False when anything is damaged, and each problem
        names the object, commit or ref concerned.
        """
        return Fsck(self._parts).run(verify_objects)

    def stats(self) -> StorageStats:
        """Storage saved by deduplication, compression and deltas (see :class:`StorageStats`)."""
        store = self._parts.store
        commits = self._history.graph.commits()
        infos = {oid: store.info(oid) for oid in store.object_ids()}
        logical = sum(
            infos[oid].raw_nbytes if oid in infos else 0
            for c in commits.values()
            for oid in c.weight_hashes.values()
        )
        stored = sum(i.stored_nbytes for i in infos.values())
        if isinstance(store, PackStore):
            disk = sum(p.stat().st_size for p in store.packs_dir.glob("*") if p.is_file())
        else:  # in memory: the payloads are all there is
            disk = stored
        return StorageStats(
            commits=len(commits),
            objects=len(infos),
            logical_bytes=logical,
            unique_bytes=sum(i.raw_nbytes for i in infos.values()),
            stored_bytes=stored,
            disk_bytes=disk,
            delta_objects=sum(1 for i in infos.values() if i.bases),
        )

    def _pack_store(self, operation: str) -> PackStore:
        store = self._parts.store
        if not isinstance(store, PackStore):
            raise InvalidValueError(
                f"{operation} rewrites pack files; a repository in memory has none"
            )
        return store


def _expiry(name: str, given: object, configured: object) -> timedelta | None:
    try:
        return parse_expiry(configured if given is None else given)
    except ValueError as err:
        raise InvalidValueError(f"{name}: {err}") from None
