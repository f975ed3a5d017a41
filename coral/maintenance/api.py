"""``Repository.repack`` and ``fsck``: keeping the store healthy and proving it is."""

from __future__ import annotations

from datetime import timedelta

from coral.delta.repack import RepackResult, repack
from coral.delta.similarity import SimilarityIndex
from coral.errors import InvalidValueError
from coral.history.graph import VersionGraph
from coral.maintenance.fsck import Fsck, FsckReport
from coral.maintenance.gc import GarbageCollector, GcReport
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.records.expiry import parse_expiry
from coral.records.layout import RepoLayout
from coral.records.parts import RepoParts
from coral.records.refs import RefStore
from coral.records.staging import StagingArea
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.locking import RepositoryLock
from coral.storage.pack_store import PackStore


class MaintenanceCommands:
    """The maintenance methods of :class:`~coral.version_control.Repository` (a mixin)."""

    store: PackStore
    config: Config
    version_graph: VersionGraph
    _layout: RepoLayout
    _commits: CommitStore
    _refs: RefStore
    _versions: VersionStore
    _staging: StagingArea
    _tracking: TrackingRefs
    _similarity: SimilarityIndex
    _lock: RepositoryLock

    def _parts(self) -> RepoParts:
        return RepoParts(
            self._layout,
            self.config,
            self._lock,
            self.store,
            self._commits,
            self._refs,
            self._versions,
            self._staging,
            self._tracking,
            self._similarity,
        )

    def repack(self, max_depth: int | None = None) -> RepackResult:
        """Rewrite in full the stored weights whose delta chains are deeper than ``max_depth``
        (default ``core.max_delta_depth``), so every read decodes a bounded number of objects.

        Returns how many objects were checked and rewritten, and the chain depths before and
        after. Superseded copies stay on disk until garbage collection.
        """
        limit = int(self.config.get("core.max_delta_depth")) if max_depth is None else max_depth
        if isinstance(limit, bool) or limit < 0:
            raise InvalidValueError(f"max_depth must be a non-negative int, got {max_depth!r}")
        needed = {
            oid for c in self.version_graph.commits().values() for oid in c.weight_hashes.values()
        }
        needed |= {w.object_id for w in self._staging.read().weights.values()}
        return repack(self.store, sorted(needed), limit)

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
        grace = _expiry("prune", prune, self.config.get("gc.prune_expire"))
        expire = _expiry(
            "reflog_expire", reflog_expire, self.config.get("gc.reflog_expire_unreachable")
        )
        collector = GarbageCollector(self._parts())
        return collector.run(prune=grace, reflog_expire=expire, dry_run=dry_run)

    def fsck(self, *, verify_objects: bool = True) -> FsckReport:
        """Check everything: re-hash every object, follow every commit, ref, tag and staged entry.

        Returns a report; ``report.ok`` is False when anything is damaged, and each problem
        names the object, commit or ref concerned.
        """
        return Fsck(self._parts()).run(verify_objects)


def _expiry(name: str, given: object, configured: object) -> timedelta | None:
    try:
        return parse_expiry(configured if given is None else given)
    except ValueError as err:
        raise InvalidValueError(f"{name}: {err}") from None
